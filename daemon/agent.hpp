// The agent: runs one lifecycle state machine per certificate on the Asio loop and performs
// each step it asks for (files through the store, requests and time through the effects it is given).
#pragma once

#include "config/settings.hpp"
#include "daemon/agent_effects.hpp"
#include "daemon/metrics.hpp"
#include "daemon/node_events.hpp"
#include "rotation/cert_kind.hpp"
#include "rotation/lifecycle.hpp"
#include "rotation/state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace kcd::daemon {

struct AgentDriver;

// How long the agent waits for what (its effects, the things it acts through, are
// AgentEffects). Tests and the demo shorten them; production uses the defaults.
struct AgentTimings {
  std::chrono::seconds watch_timeout{300};  // timeoutSeconds of each watch
  std::chrono::seconds watch_grace{30};     // silence beyond timeoutSeconds = a dead stream
  std::chrono::seconds request_timeout{30};
  // Timers run on the steady clock while deadlines are on the wall clock (which jumps on
  // suspend or an NTP step): sleeps are cut into pieces this long and the deadline re-checked.
  std::chrono::seconds max_sleep_chunk{60};
  rotation::BackoffPolicy backoff;
};

// What the agent reports to its owner (CLI, systemd notifier, tests).
struct AgentEvents {
  std::function<void(rotation::CertKind, const std::string& status)> status;  // human STATUS= line
  std::function<void(rotation::CertKind, rotation::Condition)> condition;     // after every step
  std::function<void(const std::filesystem::path&)>
      serving_installed;  // a new serving certificate is current
  // kubelet.conf now holds the cluster's new CA bundle: the client CA file follows, and the
  // kubelet is restarted (the kubelet worker does both).
  std::function<void()> cluster_ca_changed;
};

class Agent {
 public:
  Agent(boost::asio::io_context& io, config::Settings settings, AgentTimings timings, AgentEvents events,
        AgentEffects effects);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs the lifecycle of `kind` until stop() (the owner stops a one-shot run once its verdict is known).
  boost::asio::awaitable<void> run(rotation::CertKind kind);

  // Follows kube-public/cluster-info's CA bundle until stop() (followClusterCA).
  boost::asio::awaitable<void> follow_cluster_ca();
  // Ends every run() promptly: sleeping timers and requests in flight are cancelled.
  void stop();
  bool stopping() const;
  // Rotate now (renew command); wakes a sleeping run().
  void renew(rotation::CertKind kind);
  // The wall clock jumped: every sleeping run() re-checks its deadline now.
  void clock_changed();

  const rotation::Lifecycle* lifecycle(rotation::CertKind kind) const;

  // A KubeletConfigRolledBack Event about the node (`detail`: what was rolled back and why).
  void kubelet_config_rolled_back(const std::string& detail);
  // The Events about the node so far, by outcome.
  EventCounts event_counts() const;
  ClusterCaCounts cluster_ca_counts() const;

 private:
  std::unique_ptr<AgentDriver> driver_;
};

}  // namespace kcd::daemon
