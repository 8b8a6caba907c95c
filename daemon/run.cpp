#include "daemon/run.hpp"

#include "base/rfc3339.hpp"
#include "daemon/control.hpp"
#include "daemon/instance_lock.hpp"
#include "daemon/kubelet_setup.hpp"
#include "daemon/kubelet_worker.hpp"
#include "daemon/metrics.hpp"
#include "base/files.hpp"
#include "rotation/store/store.hpp"
#include "systemd/dbus.hpp"
#include "systemd/log.hpp"
#include "systemd/notify.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <memory>

namespace kcd::daemon {

namespace asio = boost::asio;
using rotation::CertKind;
using rotation::Condition;

std::vector<CertKind> managed_kinds(const config::Settings& settings) {
  std::vector<CertKind> kinds = {CertKind::Client};
  if (settings.serving) kinds.push_back(CertKind::Serving);
  return kinds;
}

std::string_view to_string(Condition c) {
  switch (c) {
    case Condition::Starting:
      return "starting";
    case Condition::Valid:
      return "valid";
    case Condition::AwaitingApproval:
      return "awaiting approval";
    case Condition::AwaitingSigner:
      return "awaiting signer";
    case Condition::Denied:
      return "denied";
    case Condition::Error:
      return "error";
  }
  return "?";
}

nlohmann::json describe_lifecycle(CertKind kind, const rotation::Lifecycle& m) {
  const auto& st = m.persistent();
  nlohmann::json j = {{"name", std::string(to_string(kind))},
                      {"phase", std::string(to_string(m.phase()))},
                      {"condition", std::string(to_string(m.condition()))},
                      {"reason", m.reason()},
                      {"installs", m.installs()},
                      {"lastError", st.last_error}};
  if (m.current()) j["sha256"] = m.current()->sha256_fingerprint;
  if (st.pending) j["pendingCSR"] = st.pending->name;
  if (st.deadline) j["rotationDeadline"] = to_rfc3339(*st.deadline);
  return j;
}

namespace {

class Supervisor {
 public:
  Supervisor(config::Settings settings, RunOptions options)
      : settings_(std::move(settings)),
        options_(std::move(options)),
        signals_(io_, SIGINT, SIGTERM, SIGHUP),
        watchdog_(io_),
        deadline_(io_) {}

  RunResult run() {
    log::info("starting", {{"version", KCD_VERSION},
                           {"node", settings_.node_name},
                           {"cert_dir", settings_.cert_dir},
                           {"mode", options_.once ? "once" : "daemon"},
                           {"serving", settings_.serving}});
    try {
      control_ = std::make_unique<ControlServer>(io_, settings_.cert_dir,
                                                 [this](const nlohmann::json& r) { return on_control(r); });
    } catch (const std::exception& e) {
      // Not fatal: the certificates matter more than the renew command.
      log::error("control socket unavailable", {{"error", e.what()}});
    }
    if (settings_.metrics_address) {
      try {
        metrics_ = std::make_unique<MetricsServer>(io_, *settings_.metrics_address,
                                                   [this] { return render_prometheus(snapshot()); });
        log::info("metrics listening", {{"address", settings_.metrics_address->text()},
                                        {"port", static_cast<long>(metrics_->port())}});
      } catch (const std::exception& e) {
        log::error("metrics endpoint unavailable",
                   {{"error", e.what()}, {"hint", "set metricsAddress to a free port, or empty"}});
      }
    }
    wait_signals();
    // The kubelet's config file is patched (and the kubelet restarted and checked) on a worker
    // thread: the loop that pings the watchdog never waits for the kubelet.
    kubelet_ = std::make_unique<KubeletWorker>([this] { asio::post(io_, [this] { cis_refreshed_ = {}; }); });
    kubelet_->recover(settings_);
    kubelet_->configure(settings_, "start");
    start_agent();
    for (CertKind k : options_.renew) agent_->renew(k);
    if (options_.once) arm_timeout();
    arm_watchdog();
    // READY=1 as soon as the loop runs: the kubelet's start must never wait for the API server
    // (on a control-plane node the kubelet itself runs the API server as a static pod).
    asio::post(io_, [this] { notifier_.ready(); });
    io_.run();
    // A one-shot run ends after the kubelet's checks; a stop (signal) ended them already.
    kubelet_->drain();
    kubelet_.reset();
    if (control_) control_->close();
    if (metrics_) metrics_->close();
    notifier_.stopping();
    log::info("stopped", {{"exit_code", result_.exit_code}, {"reason", result_.message}});
    return result_;
  }

 private:
  void start_agent() {
    AgentEvents ev;
    ev.status = [this](CertKind, const std::string&) { publish_status(); };
    ev.condition = [this](CertKind, Condition) { evaluate_once(); };
    ev.serving_installed = [this](const std::filesystem::path& file) {
      kubelet_->serving_changed(settings_, file);
    };
    agent_ = std::make_unique<Agent>(io_, settings_, options_.tuning, ev,
                                     production_effects(io_, options_.tuning.request_timeout));
    kinds_ = managed_kinds(settings_);
    for (CertKind k : kinds_) {
      ++running_;
      asio::co_spawn(io_, agent_->run(k), [this](std::exception_ptr e) { on_agent_done(e); });
    }
  }

  MetricsSnapshot snapshot() const {
    MetricsSnapshot snap;
    snap.now = std::chrono::system_clock::now();
    for (CertKind k : kinds_) {
      const rotation::Lifecycle* m = agent_ ? agent_->lifecycle(k) : nullptr;
      if (m == nullptr) continue;
      CertMetrics c;
      c.cert = std::string(to_string(k));
      if (m->current()) c.not_after = m->current()->not_after;
      const auto& st = m->persistent();
      c.rotation_deadline = st.deadline;
      if (st.pending && st.pending->filed) c.pending_since = st.pending->filed_at;
      c.last_success = st.last_success;
      c.csrs_created = st.csrs_created;
      c.attempts = m->outcomes();
      c.valid = m->current() && m->current()->not_after > snap.now;
      snap.certs.push_back(c);
    }
    // The CIS results read files and /proc: at most once a minute, and after every patch.
    if (snap.now - cis_refreshed_ > std::chrono::minutes(1)) {
      cis_refreshed_ = snap.now;
      cis_.clear();
      const auto results = kubelet::run_cis_checks(
          cis_inputs(settings_), kubelet_ ? kubelet_->summary().held_back : std::vector<kubelet::HeldKey>{});
      for (const auto& r : results) {
        cis_.push_back(CisMetric{r.id, std::string(kubelet::to_string(r.status))});
      }
    }
    snap.cis = cis_;
    if (kubelet_) {
      const KubeletSummary k = kubelet_->summary();
      snap.kubelet.rollbacks = k.rollbacks;
      snap.kubelet.refused_keys = k.refused_keys;
      for (const auto& h : k.held_back) snap.kubelet.held_keys.push_back(h.key);
    }
    return snap;
  }

  // node_exporter's textfile collector reads whole files: written atomically, 0644.
  void write_textfile() {
    if (settings_.metrics_textfile.empty()) return;
    if (auto written =
            kcd::write_file_atomic(settings_.metrics_textfile, render_prometheus(snapshot()), 0644);
        !written) {
      log::warn("metrics textfile not written",
                {{"path", settings_.metrics_textfile}, {"error", written.error().format()}});
    }
  }

  void publish_status() {
    write_textfile();
    std::string line;
    for (CertKind k : kinds_) {
      if (const auto* m = agent_->lifecycle(k))
        line += (line.empty() ? "" : "; ") + std::string(to_string(k)) + ": " + m->reason();
    }
    notifier_.status(line);
  }

  nlohmann::json on_control(const nlohmann::json& request) {
    const std::string command = request.value("command", "");
    if (command == "renew") {
      std::vector<CertKind> which;
      for (const auto& c : request.value("certs", nlohmann::json::array())) {
        const std::string name = c.is_string() ? c.get<std::string>() : "";
        if (name == "client")
          which.push_back(CertKind::Client);
        else if (name == "serving")
          which.push_back(CertKind::Serving);
        else
          return {{"error", "unknown certificate \"" + name + "\"; use client, serving or all"}};
      }
      for (CertKind k : which) {
        if (std::find(kinds_.begin(), kinds_.end(), k) == kinds_.end()) {
          return {{"error", "the serving certificate is turned off (serving: false)"}};
        }
      }
      nlohmann::json before = status_json();
      for (CertKind k : which) agent_->renew(k);
      log::info("renewal requested", {{"via", "control socket"}});
      return {{"ok", true}, {"before", before}};
    }
    if (command == "status") return status_json();
    return {{"error", "unknown command \"" + command + "\""}};
  }

  nlohmann::json status_json() const {
    nlohmann::json certs = nlohmann::json::array();
    for (CertKind k : kinds_) {
      if (const auto* m = agent_->lifecycle(k)) certs.push_back(describe_lifecycle(k, *m));
    }
    const KubeletSummary k = kubelet_ ? kubelet_->summary() : KubeletSummary{};
    nlohmann::json held = nlohmann::json::array();
    for (const auto& h : k.held_back) held.push_back({{"key", h.key}, {"cis", h.cis}, {"reason", h.reason}});
    return {{"certs", certs},
            {"pid", static_cast<long>(::getpid())},
            {"kubelet",
             {{"kubelet", k.kubelet},
              {"rollbacks", k.rollbacks},
              {"heldBack", held},
              {"refusedKeys", k.refused_keys}}}};
  }

  void on_agent_done(std::exception_ptr e) {
    --running_;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error("internal error", {{"error", ex.what()}});
        finish(kExitError, std::string("internal error: ") + ex.what());
      }
    }
    if (running_ > 0) return;
    if (restart_pending_ && !finished_) {
      restart_pending_ = false;
      start_agent();
      return;
    }
    finish(result_.exit_code, result_.message);
  }

  bool done(CertKind k, const rotation::Lifecycle& m) const {
    if (m.condition() != Condition::Valid) return false;
    const bool forced = std::find(options_.renew.begin(), options_.renew.end(), k) != options_.renew.end();
    return !forced || m.installs() > 0;
  }

  // One-shot runs end as soon as the outcome is known for every certificate.
  void evaluate_once() {
    if (!options_.once || finished_) return;
    bool all_done = true;
    std::string summary;
    for (CertKind k : kinds_) {
      const rotation::Lifecycle* m = agent_->lifecycle(k);
      if (m == nullptr) {
        all_done = false;
        continue;
      }
      if (m->condition() == Condition::Denied)
        return finish(kExitDenied, std::string(to_string(k)) + ": " + m->persistent().last_error);
      if (m->condition() == Condition::Error && m->fatal_error()) {
        return finish(kExitError, std::string(to_string(k)) + ": " + m->persistent().last_error);
      }
      if (!done(k, *m)) {
        all_done = false;
      } else {
        const auto path = rotation::Store(settings_.cert_dir, k).current_path();
        summary += (summary.empty() ? "" : "; ") + std::string(to_string(k)) +
                   " certificate valid: " + path.string();
        if (m->current()) summary += " (not after " + to_rfc3339(m->current()->not_after) + ")";
      }
    }
    if (all_done) finish(kExitOk, summary);
  }

  void finish(int code, std::string message) {
    if (!finished_) {
      finished_ = true;
      result_.exit_code = code;
      result_.message = std::move(message);
    }
    if (agent_) agent_->stop();
    signals_.cancel();
    watchdog_.cancel();
    deadline_.cancel();
    if (control_) control_->close();
    if (metrics_) metrics_->close();
  }

  void arm_timeout() {
    deadline_.expires_after(options_.timeout);
    deadline_.async_wait([this](boost::system::error_code ec) {
      if (ec || finished_) return;
      int code = kExitError;
      std::string why;
      for (CertKind k : kinds_) {
        const rotation::Lifecycle* m = agent_->lifecycle(k);
        if (m == nullptr || done(k, *m)) continue;
        const auto c = m->condition();
        const std::string err = m->persistent().last_error;
        if (c == Condition::AwaitingApproval || c == Condition::AwaitingSigner) {
          if (why.empty()) code = kExitPending;
          why += (why.empty() ? "" : "; ") + std::string(to_string(k)) + ": " + m->reason();
        } else {
          code = kExitError;
          why += (why.empty() ? "" : "; ") + std::string(to_string(k)) + ": " +
                 (err.empty() ? m->reason() : err);
        }
      }
      finish(code, "timed out after " + std::to_string(options_.timeout.count() / 1000) + "s: " + why);
    });
  }

  void arm_watchdog() {
    auto interval = notifier_.watchdog_interval();
    if (!interval || finished_) return;
    watchdog_.expires_after(*interval);
    watchdog_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      // Pinged from the loop that does the work: a hung loop stops the pings.
      notifier_.watchdog();
      arm_watchdog();
    });
  }

  void wait_signals() {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload();
        wait_signals();
        return;
      }
      log::info("signal received, stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      kubelet_->stop();
      finish(options_.once ? kExitError : kExitOk, options_.once ? "interrupted" : "stopped by signal");
    });
  }

  void reload() {
    if (!options_.reload) return;
    notifier_.reloading();
    auto fresh = options_.reload();
    if (!fresh) {
      log::error("configuration reload failed, keeping the running configuration",
                 {{"error", fresh.error().format()}});
      notifier_.ready();
      return;
    }
    log::set_level(config::to_string(fresh->log_level));
    if (fresh->cert_dir != settings_.cert_dir) {
      log::error(
          "configuration reload: certDir cannot change while running, keeping the running configuration",
          {{"running", settings_.cert_dir},
           {"new", fresh->cert_dir},
           {"hint", "restart the service instead"}});
      notifier_.ready();
      return;
    }
    settings_ = *fresh;
    log::info("configuration reloaded", {{"path", settings_.config_file}});
    kubelet_->configure(settings_, "configuration reloaded");
    restart_pending_ = true;
    agent_->stop();
    notifier_.ready();
  }

  config::Settings settings_;
  RunOptions options_;
  asio::io_context io_;
  asio::signal_set signals_;
  asio::steady_timer watchdog_;
  asio::steady_timer deadline_;
  systemd::Notifier notifier_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<MetricsServer> metrics_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<KubeletWorker> kubelet_;
  std::vector<CertKind> kinds_;
  int running_ = 0;
  bool finished_ = false;
  bool restart_pending_ = false;
  mutable std::chrono::system_clock::time_point cis_refreshed_{};
  mutable std::vector<CisMetric> cis_;
  RunResult result_;
};

}  // namespace

RunResult run(const config::Settings& settings, const RunOptions& options) {
  InstanceLock lock(settings.cert_dir);
  if (auto made = kcd::ensure_directory(settings.cert_dir, 0755); !made)
    return RunResult{kExitError, made.error().format()};
  if (std::string err = lock.acquire(); !err.empty()) return RunResult{kExitError, err};
  Supervisor supervisor(settings, options);
  return supervisor.run();
}

}  // namespace kcd::daemon
