// Everything the daemon does to the kubelet (finding it, patching its config file, restarting
// and checking it, rolling back) runs on a thread of its own, one task at a time: a restart
// check takes up to kubeletHealthTimeout and must never hold up the event loop that pings the
// watchdog. Tasks are logged from here; a summary is kept for metrics and the control socket.
#pragma once

#include "config/settings.hpp"
#include "daemon/kubelet_restart.hpp"
#include "kubelet/cis.hpp"
#include "kubelet/kubelet_config.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kcd::daemon {

struct KubeletSummary {
  std::string kubelet;  // "v1.30.4 (running kubelet (pid 812, /usr/bin/kubelet))"
  long rollbacks = 0;
  std::vector<kubelet::HeldKey> held_back;  // what the patch does not write, and why
  std::vector<std::string> refused_keys;    // refused after a rollback
  // The CIS checks as last evaluated on the worker (files and /proc are read there, never on
  // the loop): after every task that changed the kubelet's config, and on refresh_cis().
  std::vector<kubelet::CisResult> cis;
  std::chrono::steady_clock::time_point cis_evaluated{};  // zero: not yet
};

class KubeletWorker {
 public:
  // `changed` runs on the worker thread after each task that changed the kubelet's config, or
  // re-evaluated the CIS checks (the Supervisor posts from there to its loop). `rolled_back`
  // runs there too, after a change was rolled back, with what happened in one line.
  explicit KubeletWorker(std::function<void()> changed, std::function<void(std::string)> rolled_back = {});
  ~KubeletWorker();
  KubeletWorker(const KubeletWorker&) = delete;
  KubeletWorker& operator=(const KubeletWorker&) = delete;

  // At start: finish (check, or roll back) a change a previous run could not check.
  void recover(const config::Settings& settings);
  // Write the CA file and patch the kubelet config; restart and check the kubelet if it changed.
  // `cluster_ca_changed`: kubelet.conf's cluster CA was just replaced: the kubelet is restarted
  // (and checked) even when its config file does not change.
  void configure(const config::Settings& settings, std::string why, bool cluster_ca_changed = false);
  // A new serving certificate: patch (the first one adds tlsCertFile), else restart the
  // kubelet (and check it) if this version does not reload it by itself.
  void serving_changed(const config::Settings& settings, std::filesystem::path file);

  // Re-evaluates the CIS checks for the metrics (at most one such task queued at a time).
  void refresh_cis(const config::Settings& settings);

  // Ends every wait early and drops queued tasks; the thread ends after its current task.
  void stop();
  // Blocks until every queued task is done (a one-shot run exits after its checks).
  void drain();
  KubeletSummary summary() const;

 private:
  void enqueue(std::function<void()> task);
  void loop();
  // True when the config file changed (and the kubelet was restarted for it, if it may be).
  bool do_configure(const config::Settings& settings, const std::string& why,
                    bool cluster_ca_changed = false);
  void do_serving(const config::Settings& settings, const std::filesystem::path& file);
  void do_recover(const config::Settings& settings);
  void do_cis(const config::Settings& settings);

  std::function<void()> changed_;
  std::function<void(std::string)> rolled_back_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool busy_ = false;
  bool cis_queued_ = false;
  std::atomic<bool> stop_{false};
  KubeletSummary summary_;
  std::thread thread_;
};

// The daemon's health policy from its settings.
HealthPolicy health_policy(const config::Settings& settings);

}  // namespace kcd::daemon
