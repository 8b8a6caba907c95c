// The supervisor of `kubelet-certd run` (Kea's controller to the agent's process): the event
// loop, signals, SIGHUP reload, the watchdog, and the end of a one-shot run.
#pragma once

#include "daemon/agent.hpp"
#include "daemon/clock_watch.hpp"
#include "daemon/endpoints.hpp"
#include "daemon/exit_verdict.hpp"
#include "daemon/kubelet_worker.hpp"
#include "daemon/run.hpp"
#include "systemd/notify.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <exception>
#include <memory>
#include <vector>

namespace kcd::daemon {

// Owns the agent and the kubelet worker and runs them on its loop; the instance lock is taken
// before it starts (run.cpp), its endpoints are wired in daemon/endpoints, and a one-shot run
// ends with the verdict of daemon/exit_verdict.
class Supervisor final : public RunningDaemon {
 public:
  Supervisor(config::Settings settings, RunOptions options);
  ~Supervisor() override;
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts everything, runs the loop until a stop or a one-shot verdict, and shuts down: the
  // kubelet worker's checks are finished (or cut short by a signal) before it returns.
  RunResult run();

  // What the endpoints see.
  const config::Settings& settings() const override { return settings_; }
  std::vector<const rotation::Lifecycle*> lifecycles() const override;
  KubeletSummary kubelet_summary() const override;
  Expected<void> renew(const std::vector<rotation::CertKind>& certs) override;
  void refresh_cis() override;
  EventCounts event_counts() const override;
  ClusterCaCounts cluster_ca_counts() const override;

 private:
  void start_agent();
  void start_kubelet_work();
  void on_agent_done(std::exception_ptr e);
  void publish_status();
  std::vector<CertificateProgress> progress() const;
  void evaluate_once();
  void finish(Verdict verdict);
  void arm_timeout();
  void arm_watchdog();
  void wait_signals();
  void reload();

  config::Settings settings_;
  RunOptions options_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer watchdog_;
  boost::asio::steady_timer deadline_;
  boost::asio::steady_timer kubelet_delay_;  // the kubelet work's latest start (kKubeletWorkDelay)
  systemd::Notifier notifier_;
  Endpoints endpoints_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<KubeletWorker> kubelet_;
  std::unique_ptr<ClockWatch> clock_;
  std::vector<rotation::CertKind> kinds_;
  int running_ = 0;  // agent runs (one per certificate) not yet ended
  bool finished_ = false;
  bool restart_pending_ = false;  // a reload stopped the agent: start it again with the new settings
  bool kubelet_started_ = false;  // the kubelet worker got its first tasks
  RunResult result_;
};

}  // namespace kcd::daemon
