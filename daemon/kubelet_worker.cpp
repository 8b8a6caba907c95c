#include "daemon/kubelet_worker.hpp"
#include "daemon/restart_owed.hpp"

#include "daemon/kubelet_setup.hpp"
#include "kubelet/detect.hpp"
#include "base/files.hpp"
#include "systemd/log.hpp"

#include <malloc.h>

namespace kcd::daemon {

namespace {

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : sep) + x;
  return out;
}

KubeletContext system_context(const config::Settings& s, const std::atomic<bool>* stop) {
  KubeletContext ctx;
  ctx.stop = stop;
  const auto st = systemd::unit_state(s.kubelet_unit, stop);
  if (st) ctx.main_pid = st->main_pid;
  return ctx;
}

void log_change(const config::Settings& s, const KubeletChange& c, const std::string& why) {
  const std::string unit = s.kubelet_unit;
  const bool anything = !c.changes.empty() || c.ca_restart;
  const std::string cause = c.ca_restart && c.changes.empty() ? std::string("cluster CA changed") : why;
  switch (c.result) {
    case KubeletChange::Result::Unchanged:
    case KubeletChange::Result::Healthy:
      if (anything)
        log::info("kubelet restarted and healthy", {{"unit", unit}, {"why", cause}, {"state", c.detail}});
      break;
    case KubeletChange::Result::Unhealthy:
      log::error("kubelet did not come back after a cluster CA change",
                 {{"unit", unit},
                  {"error", c.detail},
                  {"hint", "the new CA stays (it is the cluster's); see journalctl -u " + unit}});
      break;
    case KubeletChange::Result::Written:
      if (anything) {
        log::warn("kubelet must be restarted to apply its new configuration",
                  {{"unit", unit}, {"why", c.detail}, {"hint", "systemctl restart " + unit}});
      }
      break;
    case KubeletChange::Result::NotRestarted:
      log::error("kubelet restart failed", {{"unit", unit},
                                            {"error", c.detail},
                                            {"why", cause},
                                            {"hint", "restart it by hand: systemctl restart " + unit}});
      break;
    case KubeletChange::Result::RolledBack:
    case KubeletChange::Result::RollbackFailed:
      log::error(c.result == KubeletChange::Result::RolledBack
                     ? "kubelet config change rolled back: the kubelet did not come back"
                     : "kubelet config change rolled back, but the kubelet did not come back",
                 {{"unit", unit},
                  {"path", s.kubelet_config},
                  {"keys", join(c.refused_keys, ", ")},
                  {"error", c.detail},
                  {"kubelet_journal", join(c.journal, " | ")},
                  {"hint",
                   "these keys are not written again until the kubelet version or the settings change; see "
                   "journalctl -u " +
                       unit}});
      break;
    case KubeletChange::Result::Interrupted:
      log::warn("kubelet check interrupted; it is finished at the next start",
                {{"unit", unit}, {"detail", c.detail}});
      break;
  }
}

// Tells the owner (an Event about the node) what was rolled back, in one line.
void report_rollback(const std::function<void(std::string)>& rolled_back, const config::Settings& s,
                     const KubeletChange& c) {
  if (!rolled_back) return;
  rolled_back(std::string(c.result == KubeletChange::Result::RolledBack
                              ? "kubelet config change rolled back: the kubelet did not come back"
                              : "kubelet config change rolled back, but the kubelet did not come back") +
              " (" + s.kubelet_config.string() + ", keys: " + join(c.refused_keys, ", ") + "): " + c.detail);
}

}  // namespace

HealthPolicy health_policy(const config::Settings& s) {
  HealthPolicy p;
  p.timeout = s.kubelet_health_timeout;
  return p;
}

KubeletWorker::KubeletWorker(std::function<void()> changed, std::function<void(std::string)> rolled_back)
    : changed_(std::move(changed)), rolled_back_(std::move(rolled_back)), thread_([this] { loop(); }) {}

KubeletWorker::~KubeletWorker() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void KubeletWorker::enqueue(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
}

void KubeletWorker::recover(const config::Settings& s) {
  enqueue([this, s] { do_recover(s); });
}

void KubeletWorker::configure(const config::Settings& s, std::string why, bool cluster_ca_changed) {
  enqueue([this, s, why = std::move(why), cluster_ca_changed] {
    (void)do_configure(s, why, cluster_ca_changed);
  });
}

void KubeletWorker::serving_changed(const config::Settings& s, std::filesystem::path file) {
  // The first serving certificate also puts tlsCertFile/tlsPrivateKeyFile in the config, and
  // that change's restart is the one the new certificate needs.
  enqueue([this, s, file = std::move(file)] {
    if (!do_configure(s, "serving certificate installed")) do_serving(s, file);
  });
}

void KubeletWorker::refresh_cis(const config::Settings& s) {
  {
    std::lock_guard lock(mu_);
    if (cis_queued_) return;
    cis_queued_ = true;
  }
  enqueue([this, s] {
    {
      std::lock_guard lock(mu_);
      cis_queued_ = false;
    }
    do_cis(s);
    changed_();
  });
}

void KubeletWorker::do_cis(const config::Settings& s) {
  std::vector<kubelet::HeldKey> held;
  {
    std::lock_guard lock(mu_);
    held = summary_.held_back;
  }
  auto results = kubelet::run_cis_checks(cis_inputs(s), held);
  std::lock_guard lock(mu_);
  summary_.cis = std::move(results);
  summary_.cis_evaluated = std::chrono::steady_clock::now();
}

void KubeletWorker::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    tasks_.clear();
  }
  cv_.notify_all();
}

void KubeletWorker::drain() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return (tasks_.empty() && !busy_) || stop_; });
}

KubeletSummary KubeletWorker::summary() const {
  std::lock_guard lock(mu_);
  return summary_;
}

void KubeletWorker::loop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return !tasks_.empty() || stop_; });
      if (stop_) {
        busy_ = false;
        cv_.notify_all();
        return;
      }
      task = std::move(tasks_.front());
      tasks_.pop_front();
      busy_ = true;
    }
    try {
      task();
    } catch (const std::exception& e) {
      log::error("kubelet task failed", {{"error", e.what()}});
    }
    bool idle = false;
    {
      std::lock_guard lock(mu_);
      busy_ = false;
      idle = tasks_.empty();
    }
    // The patch and the CIS checks parse whole files: give what they freed back to the system
    // before the thread sleeps (this thread's malloc arena stays mapped otherwise, ~0.5 MiB).
    if (idle) ::malloc_trim(0);
    cv_.notify_all();
  }
}

void KubeletWorker::do_recover(const config::Settings& s) {
  SystemKubeletEffects fx(s.kubelet_unit, &stop_);
  const auto recovered = recover_kubelet_change(s, fx, health_policy(s));
  if (!recovered) {
    log::error("unfinished kubelet config change not checked", {{"error", recovered.error().format()}});
    return;
  }
  const KubeletChange& c = *recovered;
  if (c.changes.empty()) return;
  log::info("checking an unfinished kubelet config change",
            {{"change", c.changes.front()}, {"result", std::string(to_string(c.result))}});
  log_change(s, c, "unfinished change from a previous run");
  if (c.result == KubeletChange::Result::RolledBack || c.result == KubeletChange::Result::RollbackFailed) {
    report_rollback(rolled_back_, s, c);
    do_cis(s);
    changed_();
  }
}

bool KubeletWorker::do_configure(const config::Settings& s, const std::string& why, bool cluster_ca_changed) {
  const KubeletContext ctx = system_context(s, &stop_);
  auto planned = plan_kubelet(s, ctx);
  if (planned) planned->cluster_ca_changed = cluster_ca_changed;
  if (!planned) {
    log::error("kubelet-config.yaml not patched",
               {{"path", s.kubelet_config},
                {"error", planned.error().format()},
                {"hint", "fix the file, then systemctl reload kubelet-certd"}});
    return false;
  }
  // A stop cut `kubelet --version` or a D-Bus call short: the plan may lack the version, so
  // nothing is written (the next start plans again).
  if (stop_) return false;
  const KubeletPlan& plan = *planned;
  // A stop that came while the plan was computed: nothing is written.
  if (stop_) return false;
  if (!plan.state_warning.empty())
    log::warn("kubelet change record unreadable", {{"error", plan.state_warning}});
  for (const auto& c : plan.conflicts) {
    log::warn("kubelet flag overrides kubelet-config.yaml",
              {{"flag", c}, {"hint", "remove the flag from the kubelet's service files"}});
  }
  for (const auto& i : plan.kubelet.ignored) log::warn("process named kubelet ignored", {{"process", i}});
  std::vector<std::string> held;
  for (const auto& h : plan.patch.held_back) held.push_back(h.key + ": " + h.reason);
  {
    std::lock_guard lock(mu_);
    summary_.kubelet = plan.kubelet.describe();
    summary_.held_back = plan.patch.held_back;
    summary_.rollbacks = plan.state.rollbacks;
    summary_.refused_keys.clear();
    if (plan.state.refused && plan.state.refused->fingerprint == plan.fingerprint) {
      for (const auto& [k, v] : plan.state.refused->keys) summary_.refused_keys.push_back(k);
    }
  }
  if (!plan.ca_refused.empty()) {
    log::error("cluster CA refused: the kubelet's client CA file is not written from it",
               {{"path", s.client_ca_file}, {"error", plan.ca_refused}});
  }
  if (!plan.ca_foreign.empty())
    log::warn("client CA file left alone", {{"path", s.client_ca_file}, {"why", plan.ca_foreign}});
  if (!plan.restart_owed.empty() && !plan.cluster_ca_changed) {
    // Recorded before a crash, a stop or a failed restart: done now.
    log::info("kubelet restart owed for a CA change",
              {{"record", s.cert_dir / std::string(kRestartOwedFileName)},
               {"for", plan.restart_owed.substr(0, plan.restart_owed.find('\n'))}});
  }
  if (!plan.patch.changed && plan.ca_pem.empty() && !plan.cluster_ca_changed && plan.restart_owed.empty())
    return false;
  log::info(
      "kubelet-config.yaml patch",
      {{"path", s.kubelet_config},
       {"why", why},
       {"kubelet", plan.kubelet.describe()},
       {"changes", join(plan.patch.changes, "; ")},
       {"held_back", held.empty() ? std::string("none") : join(held, "; ")},
       {"version_note", plan.kubelet.version ? std::string()
                                             : "no kubelet found (" + plan.kubelet.problem +
                                                   "): writing only keys every kubelet from 1.24 accepts"}});
  SystemKubeletEffects fx(s.kubelet_unit, &stop_);
  const auto applied = apply_kubelet_plan(s, plan, &fx, health_policy(s));
  if (!applied) {
    log::error("kubelet-config.yaml not patched",
               {{"path", s.kubelet_config},
                {"error", applied.error().format()},
                {"hint", "free the disk or fix the permissions, then systemctl reload kubelet-certd"}});
    return false;
  }
  const KubeletChange& c = *applied;
  if (c.ca_written) log::info("cluster CA written for the kubelet", {{"path", s.client_ca_file}});
  if (c.ca_updated)
    log::info("client CA file updated to the cluster's bundle", {{"path", s.client_ca_file}, {"why", why}});
  if (!c.changes.empty()) {
    log::info("kubelet-config.yaml patched",
              {{"path", s.kubelet_config},
               {"why", why},
               {"changes", join(c.changes, "; ")},
               {"backup", c.backup.empty() ? std::string("(new file)") : c.backup.string()}});
  }
  log_change(s, c, "kubelet-config.yaml changed");
  if (c.result == KubeletChange::Result::RolledBack || c.result == KubeletChange::Result::RollbackFailed) {
    {
      std::lock_guard lock(mu_);
      summary_.rollbacks++;
      summary_.refused_keys = c.refused_keys;
    }
    report_rollback(rolled_back_, s, c);
  }
  if (!c.changes.empty() || c.ca_written || c.ca_updated) {
    do_cis(s);
    changed_();
  }
  return !c.changes.empty();
}

void KubeletWorker::do_serving(const config::Settings& s, const std::filesystem::path& file) {
  SystemKubeletEffects fx(s.kubelet_unit, &stop_);
  const Expected<systemd::UnitState> unit = fx.unit_state();
  const RestartDecision decision = decide_kubelet_restart(RestartCause::ServingCertificateChanged,
                                                          s.kubelet_restart, seen_unit(unit), [&] {
                                                            kubelet::DetectOptions d;
                                                            if (!s.kubelet_path.empty())
                                                              d.kubelet_path = s.kubelet_path;
                                                            d.unit = s.kubelet_unit;
                                                            d.main_pid = unit ? unit->main_pid : 0;
                                                            d.stop = &stop_;
                                                            return kubelet::detect_kubelet(d).version;
                                                          });
  if (decision.action == RestartDecision::Action::None) {
    log::info("kubelet not restarted for its new serving certificate",
              {{"path", file}, {"why", decision.why}});
    return;
  }
  // Unreadable: the default health endpoint.
  auto read = kcd::read_file(s.kubelet_config, kubelet::kMaxKubeletConfigBytes);
  const std::string text = read ? *read : std::string();
  const std::string owed = owed_kubelet_restart(s.cert_dir);
  const RestartCheck check = restart_and_check(fx, health_endpoint(text), health_policy(s), decision.action);
  const std::string why = "serving certificate " + file.string() + " changed";
  // A restart owed for a CA change is paid by this one: the kubelet read every file as it started.
  if (check.result == RestartCheck::Result::Healthy || check.result == RestartCheck::Result::Unhealthy)
    settle_kubelet_restart(s.cert_dir, owed);
  switch (check.result) {
    case RestartCheck::Result::Healthy:
      log::info("kubelet restarted and healthy", {{"unit", s.kubelet_unit}, {"why", why}});
      break;
    case RestartCheck::Result::NotRestarted:
      log::error("kubelet restart failed",
                 {{"unit", s.kubelet_unit},
                  {"error", check.detail},
                  {"why", why},
                  {"hint", "restart it by hand: systemctl restart " + s.kubelet_unit}});
      break;
    case RestartCheck::Result::Unhealthy:
      log::error("kubelet did not come back after a restart for its new serving certificate",
                 {{"unit", s.kubelet_unit},
                  {"error", check.detail},
                  {"kubelet_journal", join(fx.journal_tail(), " | ")}});
      break;
    case RestartCheck::Result::Interrupted:
      break;
  }
}

}  // namespace kcd::daemon
