#include "daemon/approver.hpp"

#include "daemon/metrics.hpp"
#include "rotation/csr.hpp"
#include "systemd/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <set>

namespace kcd::daemon {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kSelector = "spec.signerName=kubernetes.io/kubelet-serving";

bool decided(const api::Csr& c) {
  return c.approved() || c.denied() || c.failed();
}

LeaseRecord record_of(const api::Lease& l) {
  LeaseRecord r;
  r.holder = l.holder;
  r.lease_duration_seconds = l.lease_duration_seconds;
  r.acquire_time = l.acquire_time.value_or(WallTime{});
  r.renew_time = l.renew_time.value_or(WallTime{});
  r.transitions = l.transitions;
  r.resource_version = l.resource_version;
  return r;
}

api::Lease lease_of(const LeaseRecord& r, const ApproverConfig& c) {
  api::Lease l;
  l.namespace_ = c.lease_namespace;
  l.name = c.lease_name;
  l.resource_version = r.resource_version;
  l.holder = r.holder;
  l.lease_duration_seconds = r.lease_duration_seconds;
  if (r.acquire_time != WallTime{}) l.acquire_time = r.acquire_time;
  if (r.renew_time != WallTime{}) l.renew_time = r.renew_time;
  l.transitions = r.transitions;
  return l;
}

std::string verdict_word(rotation::Verdict v) {
  switch (v) {
    case rotation::Verdict::Approve:
      return "approve";
    case rotation::Verdict::Deny:
      return "deny";
    case rotation::Verdict::Wait:
      return "wait";
    case rotation::Verdict::NotOurs:
      break;
  }
  return "not-ours";
}

}  // namespace

std::string render_approver_metrics(const ApproverMetrics& m) {
  std::string out;
  metric_family(
      out, "kubelet_certd_approver_decisions_total", "counter",
      "kubelet-serving CSR decisions by result (approve, deny; wait: once per CSR and reason) and rule.");
  for (const auto& [key, count] : m.decisions) {
    out += "kubelet_certd_approver_decisions_total{result=\"" + metric_label_value(key.first) + "\",rule=\"" +
           metric_label_value(key.second) + "\"} " + std::to_string(count) + "\n";
  }
  metric_family(
      out, "kubelet_certd_approver_pending", "gauge",
      "kubelet-serving CSRs without an Approved, Denied or Failed condition (every replica counts them).");
  out += "kubelet_certd_approver_pending " + std::to_string(m.pending) + "\n";
  metric_family(out, "kubelet_certd_approver_leader", "gauge",
                "1 while this replica holds the Lease and decides, else 0.");
  out += "kubelet_certd_approver_leader " + std::string(m.leader ? "1" : "0") + "\n";
  metric_family(out, "kubelet_certd_approver_leader_transitions_total", "counter",
                "Times this replica became the leader.");
  out += "kubelet_certd_approver_leader_transitions_total " + std::to_string(m.leader_transitions) + "\n";
  metric_family(out, "kubelet_certd_approver_api_errors_total", "counter",
                "Failed API requests (each is retried with backoff).");
  out += "kubelet_certd_approver_api_errors_total " + std::to_string(m.api_errors) + "\n";
  metric_family(out, "kubelet_certd_build_info", "gauge", "Version of kubelet-certd.");
  out += "kubelet_certd_build_info{version=\"" + metric_label_value(KCD_VERSION) + "\"} 1\n";
  return out;
}

struct Approver::Impl {
  Impl(asio::io_context& io_, ApproverClientFactory f, ApproverConfig c, ApproverMetrics& m)
      : io(io_),
        factory(std::move(f)),
        config(std::move(c)),
        metrics(m),
        elector(config.identity, config.timings),
        wake(io_),
        uniform(rotation::system_uniform01()) {}

  asio::io_context& io;
  ApproverClientFactory factory;
  ApproverConfig config;
  ApproverMetrics& metrics;
  LeaderElector elector;
  std::shared_ptr<api::Client> client;
  bool stopped = false;
  std::optional<Error> fatal;
  std::set<asio::steady_timer*> sleeping;
  asio::steady_timer wake;  // the decision loop waits on it; a change cancels it
  bool dirty = true;        // something changed since the decision loop last looked
  std::function<double()> uniform;

  // The CSR cache (name -> object as last seen) and the list's resourceVersion.
  std::map<std::string, api::Csr> csrs;
  std::string resource_version;
  // Per CSR that waits: when to look again, its backoff, the reason it last waited for.
  struct Waiting {
    Steady::time_point due{};
    rotation::Backoff backoff;
    std::string reason;
  };
  std::map<std::string, Waiting> waiting;
  // One log line per kind of API failure until a request succeeds again.
  std::set<std::string> reported;
  std::optional<api::Lease> last_written;  // our last accepted Lease write

  bool leading() const { return elector.leading(Steady::now()); }

  // The cache changed: the pending count (every replica shows it) and a look by the leader.
  void kick() {
    long pending = 0;
    for (const auto& [name, csr] : csrs)
      pending += !decided(csr) && csr.signer_name == kServingSigner ? 1 : 0;
    metrics.pending = pending;
    dirty = true;
    wake.cancel();
  }

  // Sleeps `d`; false once stopped.
  asio::awaitable<bool> sleep(Steady::duration d) {
    if (stopped) co_return false;
    asio::steady_timer t(io);
    t.expires_after(d);
    sleeping.insert(&t);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    sleeping.erase(&t);
    co_return !stopped;
  }

  // The client, made on first use and again after a 401 (a rotated token or certificate).
  std::shared_ptr<api::Client> current_client() {
    if (!client) {
      auto made = factory();
      if (!made) {
        api_failed("client", made.error());
        return nullptr;
      }
      client = std::shared_ptr<api::Client>(std::move(*made));
    }
    return client;
  }

  void api_failed(const std::string& what, const Error& e) {
    ++metrics.api_errors;
    if (e.kind == ErrorKind::Unauthorized) client.reset();
    if (reported.insert(what + ":" + std::string(to_string(e.kind))).second) {
      log::warn("approver request failed", {{"request", what}, {"error", e.format()}});
    }
  }
  void api_ok(const std::string& what) {
    for (auto it = reported.begin(); it != reported.end();) {
      it = it->rfind(what + ":", 0) == 0 ? reported.erase(it) : std::next(it);
    }
  }

  void set_leader(bool now_leading) {
    if (now_leading == metrics.leader) return;
    metrics.leader = now_leading;
    if (now_leading) {
      ++metrics.leader_transitions;
      log::info("leading: deciding kubelet-serving CSRs",
                {{"identity", config.identity}, {"lease", config.lease_namespace + "/" + config.lease_name}});
      kick();
    } else {
      log::warn("not leading any more: deciding nothing", {{"identity", config.identity}});
    }
  }

  // --- The Lease ---------------------------------------------------------------------------

  asio::awaitable<void> lease_loop() {
    while (!stopped) {
      const auto started = Steady::now();
      co_await lease_round(started);
      set_leader(leading());
      const auto next = elector.next_attempt(started);
      // While leading, wake the decision loop when the renewal deadline would pass unrenewed.
      if (!co_await sleep(std::max<Steady::duration>(next - Steady::now(), 0ms))) break;
    }
    set_leader(false);
  }

  asio::awaitable<void> lease_round(Steady::time_point started) {
    auto c = current_client();
    if (!c) co_return;
    const auto wall = std::chrono::system_clock::now();
    auto got = co_await c->get_lease(config.lease_namespace, config.lease_name);
    std::optional<LeaseRecord> observed;
    if (got) {
      observed = record_of(*got);
      api_ok("lease");
    } else if (got.error().kind != ErrorKind::NotFound) {
      if (got.error().kind != ErrorKind::Cancelled) api_failed("lease", got.error());
      elector.write_failed(started);
      co_return;
    }
    const auto attempt = elector.observe(observed, wall, started);
    if (attempt.op == LeaderElector::Op::None) co_return;
    const api::Lease write = lease_of(attempt.record, config);
    api::Result<api::Lease> written = Unexpected(make_error(ErrorKind::Cancelled, "not written"));
    if (attempt.op == LeaderElector::Op::Create) {
      written = co_await c->create_lease(write);
    } else {
      written = co_await c->update_lease(write);
    }
    if (written) {
      // Measured from before the request: the holder's view is never younger than the server's.
      elector.written(record_of(*written), started);
      last_written = *written;
      api_ok("lease");
    } else {
      elector.write_failed(started);
      // Someone else wrote first: normal between replicas, not an error.
      if (written.error().kind != ErrorKind::Conflict && written.error().kind != ErrorKind::AlreadyExists &&
          written.error().kind != ErrorKind::Cancelled)
        api_failed("lease", written.error());
    }
  }

  // client-go's ReleaseOnCancel: a replica that stops while leading clears the holder, so
  // another takes over at its next retry instead of after the lease duration. A fresh client:
  // the running one was cancelled.
  asio::awaitable<void> release() {
    if (!last_written || !elector.leading(Steady::now())) co_return;
    auto made = factory();
    if (!made) co_return;
    std::shared_ptr<api::Client> c(std::move(*made));
    api::Lease l = *last_written;
    const auto now = std::chrono::system_clock::now();
    l.holder.clear();
    l.lease_duration_seconds = 1;
    l.acquire_time = now;
    l.renew_time = now;
    auto r = co_await c->update_lease(l);
    if (r)
      log::info("lease released", {{"identity", config.identity}});
    else
      log::warn("lease not released (the next leader waits for it to expire)",
                {{"error", r.error().format()}});
  }

  // --- The CSRs ----------------------------------------------------------------------------

  asio::awaitable<void> csr_loop() {
    rotation::Backoff backoff(config.backoff, uniform);
    bool need_list = true;
    auto listed_at = Steady::now();
    while (!stopped) {
      auto c = current_client();
      if (!c) {
        if (!co_await sleep(backoff.next())) break;
        continue;
      }
      if (need_list) {
        const std::string selector(kSelector);
        auto list = co_await c->list_csrs(selector);
        if (!list) {
          if (list.error().kind == ErrorKind::Cancelled) break;
          api_failed("list", list.error());
          if (!co_await sleep(backoff.next(list.error().retry_after))) break;
          continue;
        }
        api_ok("list");
        csrs.clear();
        for (auto& item : list->items) csrs.emplace(item.name, std::move(item));
        resource_version = list->resource_version;
        need_list = false;
        listed_at = Steady::now();
        kick();
      }
      const auto until_resync =
          std::chrono::duration_cast<std::chrono::seconds>(listed_at + config.resync - Steady::now());
      const auto timeout = std::clamp(until_resync, std::chrono::seconds(1), config.watch_timeout);
      bool gone = false;
      const std::string selector(kSelector);
      const std::string from = resource_version;
      auto on_event = [this, &gone](const api::WatchEvent& ev) {
        switch (ev.type) {
          case api::WatchEvent::Type::Added:
          case api::WatchEvent::Type::Modified:
            csrs[ev.object.name] = ev.object;
            break;
          case api::WatchEvent::Type::Deleted:
            csrs.erase(ev.object.name);
            waiting.erase(ev.object.name);
            break;
          case api::WatchEvent::Type::Bookmark:
            break;
          case api::WatchEvent::Type::Error:
            gone = ev.error && ev.error->kind == ErrorKind::Gone;
            if (!gone && ev.error) api_failed("watch", *ev.error);
            return false;
        }
        if (!ev.object.resource_version.empty()) resource_version = ev.object.resource_version;
        kick();
        return true;
      };
      auto end = co_await c->watch_csrs(selector, from, timeout, timeout + 30s, std::move(on_event));
      if (stopped) break;
      if (!end && end.error().kind == ErrorKind::Gone) gone = true;
      if (gone) {
        // The resourceVersion is too old (compacted): list again, as client-go's reflector
        // does, after the backoff (a server that answers 410 to every watch gets no hot loop).
        log::info("csr watch expired: listing again", {{"resource_version", from}});
        need_list = true;
        if (!co_await sleep(backoff.next())) break;
        continue;
      }
      if (Steady::now() >= listed_at + config.resync) need_list = true;
      if (!end || *end == api::WatchEnd::Silent ||
          (*end == api::WatchEnd::ServerClosed && Steady::now() - listed_at < 1s)) {
        // A failed or dead watch, or one that ends at once, goes through the one backoff.
        if (!end) api_failed("watch", end.error());
        if (!co_await sleep(backoff.next(end ? std::nullopt : end.error().retry_after))) break;
        continue;
      }
      backoff.reset();
    }
  }

  // --- The decisions -----------------------------------------------------------------------

  asio::awaitable<void> decide_loop() {
    while (!stopped) {
      Steady::time_point next = Steady::now() + config.resync;
      dirty = false;
      if (leading()) {
        next = std::min(next, co_await decide_pending());
      } else {
        next = Steady::now() + config.timings.retry_period;
      }
      if (stopped) break;
      if (dirty) continue;
      wake.expires_at(next);
      boost::system::error_code ec;
      co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  // Decides every pending CSR that is due; returns when the next waiting one is due.
  asio::awaitable<Steady::time_point> decide_pending() {
    auto next = Steady::now() + config.resync;
    std::vector<std::string> names;
    for (const auto& [name, csr] : csrs) {
      if (!decided(csr) && csr.signer_name == kServingSigner) names.push_back(name);
    }
    for (const auto& name : names) {
      if (stopped || !leading()) break;
      auto it = csrs.find(name);
      if (it == csrs.end() || decided(it->second)) continue;
      auto w = waiting.find(name);
      if (w != waiting.end() && w->second.due > Steady::now()) {
        next = std::min(next, w->second.due);
        continue;
      }
      const api::Csr csr = it->second;
      co_await decide(csr);
      if (auto again = waiting.find(name); again != waiting.end()) next = std::min(next, again->second.due);
    }
    co_return next;
  }

  Waiting& waiting_for(const std::string& name) {
    auto it = waiting.find(name);
    if (it == waiting.end()) {
      it = waiting.emplace(name, Waiting{{}, rotation::Backoff(config.wait_backoff, uniform), {}}).first;
    }
    return it->second;
  }

  void retry_later(const std::string& name, std::optional<std::chrono::seconds> retry_after = std::nullopt) {
    Waiting& w = waiting_for(name);
    w.due = Steady::now() + w.backoff.next(retry_after);
  }

  asio::awaitable<void> decide(const api::Csr& csr) {
    auto c = current_client();
    if (!c) co_return;
    const rotation::ServingCsr request = serving_csr_of(csr);
    std::optional<std::vector<rotation::NodeAddress>> addresses;
    std::optional<api::Node> node;
    if (auto node_name = rotation::node_of_username(csr.username)) {
      auto got = co_await c->get_node(*node_name);
      if (got) {
        node = *got;
        addresses = got->addresses;
        api_ok("node");
      } else if (got.error().kind != ErrorKind::NotFound) {
        if (got.error().kind != ErrorKind::Cancelled) api_failed("node", got.error());
        retry_later(csr.name, got.error().retry_after);
        co_return;
      }
    }
    const rotation::ServingDecision d = rotation::decide_serving_csr(request, addresses, config.policy);
    switch (d.verdict) {
      case rotation::Verdict::NotOurs:
        waiting_for(csr.name).due = Steady::time_point::max();
        co_return;
      case rotation::Verdict::Wait: {
        Waiting& w = waiting_for(csr.name);
        if (w.reason != d.reason) {
          w.reason = d.reason;
          ++metrics.decisions[{"wait", d.reason}];
          log::info("csr waits", {{"csr", csr.name}, {"reason", d.reason}, {"message", d.message}});
        }
        retry_later(csr.name);
        co_return;
      }
      case rotation::Verdict::Approve:
      case rotation::Verdict::Deny:
        break;
    }
    // Only a leader decides: checked again right before the write.
    if (!leading()) co_return;
    const bool approve = d.verdict == rotation::Verdict::Approve;
    api::CsrCondition condition;
    condition.type = approve ? "Approved" : "Denied";
    condition.status = "True";
    condition.reason = d.reason;
    condition.message = d.message;
    condition.last_update_time = to_rfc3339(std::chrono::system_clock::now());
    auto updated = co_await c->update_approval(csr, condition);
    if (!updated) {
      const Error& e = updated.error();
      if (e.kind == ErrorKind::Conflict || e.kind == ErrorKind::NotFound) {
        // Changed since it was read (decided by another leader, or deleted): read it again.
        auto fresh = co_await c->get_csr(csr.name);
        if (fresh)
          csrs[csr.name] = *fresh;
        else if (fresh.error().kind == ErrorKind::NotFound)
          csrs.erase(csr.name);
        kick();
        co_return;
      }
      if (e.kind != ErrorKind::Cancelled) api_failed("approval", e);
      retry_later(csr.name, e.retry_after);
      co_return;
    }
    api_ok("approval");
    csrs[csr.name] = *updated;
    waiting.erase(csr.name);
    kick();
    ++metrics.decisions[{verdict_word(d.verdict), d.reason}];
    const std::string node_name = rotation::node_of_username(csr.username).value_or("");
    if (approve) {
      log::info("csr approved",
                {{"csr", csr.name}, {"node", node_name}, {"reason", d.reason}, {"message", d.message}});
    } else {
      log::warn("csr denied",
                {{"csr", csr.name}, {"node", node_name}, {"reason", d.reason}, {"message", d.message}});
    }
    post_events(*updated, node, approve, d);
  }

  // Events never delay a decision: each is posted on its own, and a failure is only logged.
  void post_events(const api::Csr& csr, const std::optional<api::Node>& node, bool approve,
                   const rotation::ServingDecision& d) {
    const auto now = std::chrono::system_clock::now();
    api::EventRecord e;
    e.type = approve ? "Normal" : "Warning";
    e.reason = d.reason;
    e.message =
        std::string(approve ? "approved" : "denied") + " kubelet-serving CSR " + csr.name + ": " + d.message;
    e.component = "kubelet-certd-approver";
    e.host = config.host;
    e.first = e.last = now;
    std::vector<api::EventRecord> events;
    e.name = api::event_name(csr.name, now);
    e.involved = {"CertificateSigningRequest", csr.name, csr.uid, "certificates.k8s.io/v1",
                  csr.resource_version};
    events.push_back(e);
    if (node) {
      // Node events carry the node's name as uid, as the kubelet's do (kubectl describe node
      // looks them up that way).
      e.name = api::event_name(node->name, now);
      e.involved = {"Node", node->name, node->name, "", ""};
      events.push_back(e);
    }
    auto c = client;
    if (!c) return;
    for (auto& ev : events) {
      asio::co_spawn(io, post_event(c, std::move(ev)), asio::detached);
    }
  }

  asio::awaitable<void> post_event(std::shared_ptr<api::Client> c, api::EventRecord e) {
    auto r = co_await c->create_event(e);
    if (!r && r.error().kind != ErrorKind::Cancelled) api_failed("event", r.error());
  }
};

Approver::Approver(asio::io_context& io, ApproverClientFactory clients, ApproverConfig config)
    : impl_(std::make_unique<Impl>(io, std::move(clients), std::move(config), metrics_)) {}

Approver::~Approver() = default;

asio::awaitable<Expected<void>> Approver::run() {
  Impl& im = *impl_;
  log::info("approver starting", {{"identity", im.config.identity},
                                  {"lease", im.config.lease_namespace + "/" + im.config.lease_name}});
  // Boost 1.74 has no awaitable operators: the three loops are spawned, and this waits for all.
  int running = 3;
  asio::steady_timer all_done(im.io, Steady::time_point::max());
  auto finished = [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        log::error("approver loop failed", {{"error", x.what()}});
        im.fatal = make_error(ErrorKind::Unexpected, std::string("approver loop failed: ") + x.what());
      }
      stop();
    }
    if (--running == 0) all_done.cancel();
  };
  asio::co_spawn(im.io, im.lease_loop(), finished);
  asio::co_spawn(im.io, im.csr_loop(), finished);
  asio::co_spawn(im.io, im.decide_loop(), finished);
  boost::system::error_code ec;
  co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_await im.release();
  im.set_leader(false);
  if (im.fatal) co_return Unexpected(*im.fatal);
  co_return Expected<void>{};
}

void Approver::stop() {
  Impl& im = *impl_;
  if (im.stopped) return;
  im.stopped = true;
  for (auto* t : im.sleeping) t->cancel();
  im.wake.cancel();
  if (im.client) im.client->cancel();
}

bool Approver::leading() const {
  return impl_->leading();
}

}  // namespace kcd::daemon
