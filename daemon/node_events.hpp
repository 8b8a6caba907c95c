// The agent's Events about its own Node, sent without ever holding up a step: correlated
// (daemon/event_correlator.hpp) when they happen, queued (bounded), and sent one at a time by
// a sender on the loop that nobody waits for, as the node (its client certificate; with none
// yet they wait in the queue, never going out with the bootstrap token). A 403 is logged once
// and ends posting until the daemon restarts; any other failure drops that Event (no retry).
#pragma once

#include "daemon/api/csr_api.hpp"
#include "daemon/event_correlator.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace kcd::daemon {

// Events waiting to be sent; past this, new ones are dropped.
inline constexpr std::size_t kMaxQueuedEvents = 32;
// After stop(), what is being sent gets this long before it is cancelled (a one-shot run still
// tells the cluster what it did; a dead API server never holds the exit).
inline constexpr std::chrono::seconds kEventStopGrace{1};

class NodeEvents {
 public:
  using Time = std::chrono::system_clock::time_point;
  // The connection as the node, or null while the node has no usable client certificate.
  using Open = std::function<std::unique_ptr<api::CsrApi>()>;

  NodeEvents(boost::asio::io_context& io, std::string node_name);
  ~NodeEvents();
  NodeEvents(const NodeEvents&) = delete;
  NodeEvents& operator=(const NodeEvents&) = delete;

  // Records `event` at `now` and starts sending through `open` if nothing is being sent. Never waits.
  void record(const NodeEvent& event, Time now, const Open& open);
  // Starts sending what waits (the node may have a client certificate now).
  void flush(const Open& open);
  // No more Events: what is being sent gets kEventStopGrace, the rest is dropped.
  void stop();
  EventCounts counts() const;

 private:
  struct State;
  // Sends what is queued, one request at a time, until the queue is empty, a 403 or the end of
  // the grace after a stop. Holds the state, not this object: it may outlive the agent.
  static boost::asio::awaitable<void> send_queued(std::shared_ptr<State> st,
                                                  std::unique_ptr<api::CsrApi> api);

  std::shared_ptr<State> state_;
  boost::asio::steady_timer grace_;
};

}  // namespace kcd::daemon
