#include "daemon/node_events.hpp"

#include "systemd/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <deque>

namespace kcd::daemon {

namespace asio = boost::asio;

// Shared with the sender coroutine, which may outlive the agent that recorded the Events.
struct NodeEvents::State {
  explicit State(std::string node_name) : correlator(std::move(node_name)) {}

  EventCorrelator correlator;
  std::deque<EventAction> queue;
  EventCounts counts;
  bool sending = false;
  bool refused = false;  // a 403: nothing more until a restart
  bool stopping = false;
  bool cut = false;                     // the grace after stop() is over
  api::CsrApi* in_flight = nullptr;     // the connection of the request being sent
  asio::steady_timer* grace = nullptr;  // NodeEvents' timer while it lives

  void drop(const std::string& why, long n = 1) { counts.dropped[why] += n; }
};

namespace {

std::string_view verb_of(const EventAction& a) {
  return a.kind == EventAction::Kind::Create ? "create" : "patch";
}

}  // namespace

NodeEvents::NodeEvents(asio::io_context& io, std::string node_name)
    : state_(std::make_shared<State>(std::move(node_name))), grace_(io) {
  state_->grace = &grace_;
}

NodeEvents::~NodeEvents() {
  state_->grace = nullptr;
}

void NodeEvents::record(const NodeEvent& event, Time now, const Open& open) {
  State& st = *state_;
  if (st.refused || st.stopping) return;
  EventAction action = st.correlator.correlate(event, now);
  if (action.kind == EventAction::Kind::Drop) {
    st.drop("rate_limited");
    log::debug("event dropped", {{"reason", event.reason}, {"why", "rate limited"}});
    return;
  }
  if (st.queue.size() >= kMaxQueuedEvents) {
    st.drop("queue_full");
    if (action.kind == EventAction::Kind::Create) st.correlator.forget(action.record.name);
    log::debug("event dropped", {{"reason", event.reason}, {"why", "queue full"}});
    return;
  }
  st.queue.push_back(std::move(action));
  flush(open);
}

void NodeEvents::flush(const Open& open) {
  State& st = *state_;
  if (st.sending || st.queue.empty() || st.refused || st.stopping || !open) return;
  auto api = open();
  if (!api) return;  // no client certificate yet: the Events wait
  st.sending = true;
  // The request's connection is known before the sender first runs, so a stop right after
  // this (a one-shot run's end) can still cut it.
  st.in_flight = api.get();
  asio::co_spawn(grace_.get_executor(), send_queued(state_, std::move(api)), asio::detached);
}

void NodeEvents::stop() {
  State& st = *state_;
  if (st.stopping) return;
  st.stopping = true;
  if (!st.sending) {
    st.drop("stopped", static_cast<long>(st.queue.size()));
    st.queue.clear();
    return;
  }
  grace_.expires_after(kEventStopGrace);
  grace_.async_wait([state = state_](boost::system::error_code ec) {
    if (ec) return;
    state->cut = true;
    if (state->in_flight != nullptr) state->in_flight->cancel();
  });
}

EventCounts NodeEvents::counts() const {
  return state_->counts;
}

asio::awaitable<void> NodeEvents::send_queued(std::shared_ptr<State> st, std::unique_ptr<api::CsrApi> api) {
  while (!st->queue.empty() && !st->refused && !st->cut) {
    EventAction action = std::move(st->queue.front());
    st->queue.pop_front();
    st->in_flight = api.get();
    api::Result<void> sent;
    if (action.kind == EventAction::Kind::Patch) {
      sent = co_await api->patch_event(action.record);
      // The first Event is gone (deleted, or expired after its TTL): a new one, as client-go does.
      if (!sent && sent.error().kind == ErrorKind::NotFound && !st->cut) {
        action.kind = EventAction::Kind::Create;
        sent = co_await api->create_event(action.record);
      }
    } else {
      sent = co_await api->create_event(action.record);
    }
    st->in_flight = nullptr;
    if (sent) {
      ++(action.kind == EventAction::Kind::Create ? st->counts.created : st->counts.patched);
      continue;
    }
    const Error& e = sent.error();
    if (action.kind == EventAction::Kind::Create) st->correlator.forget(action.record.name);
    if (e.kind == ErrorKind::Forbidden) {
      st->refused = true;
      st->drop("refused", 1 + static_cast<long>(st->queue.size()));
      st->queue.clear();
      log::warn("events refused, no more are posted until the daemon restarts",
                {{"reason", action.record.reason},
                 {"error", e.format()},
                 {"fix",
                  "the node may create and patch core/v1 Events about itself when the API server authorizes "
                  "nodes with the Node authorizer (--authorization-mode=Node,RBAC) and admits them with "
                  "NodeRestriction"}});
      break;
    }
    st->drop(e.kind == ErrorKind::Cancelled ? "stopped" : "failed");
    log::debug("event dropped",
               {{"reason", action.record.reason}, {"verb", verb_of(action)}, {"error", e.format()}});
  }
  if (st->cut || st->stopping) {
    st->drop("stopped", static_cast<long>(st->queue.size()));
    st->queue.clear();
  }
  st->in_flight = nullptr;
  st->sending = false;
  if (st->grace != nullptr) st->grace->cancel();
}

}  // namespace kcd::daemon
