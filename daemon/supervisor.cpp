#include "daemon/supervisor.hpp"

#include "base/trace.hpp"
#include "daemon/settings_check.hpp"
#include "daemon/off_loop.hpp"
#include "rotation/store/store.hpp"
#include "systemd/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include <malloc.h>

#include <algorithm>
#include <csignal>

namespace kcd::daemon {

namespace asio = boost::asio;
using rotation::CertKind;
using rotation::Condition;

// The kubelet work (the config patch, an unfinished change's check, the CIS checks) starts once
// the client certificate is settled, or this long after the start, whichever comes first.
constexpr std::chrono::seconds kKubeletWorkDelay{1};
// With the clock watch, a sleep wakes at its deadline or at a clock jump; this is only a safety
// net (without it the agent wakes every AgentTimings::max_sleep_chunk, a minute, to look).
constexpr std::chrono::hours kSleepChunkWithClockWatch{1};

Supervisor::Supervisor(config::Settings settings, RunOptions options)
    : settings_(std::move(settings)),
      options_(std::move(options)),
      signals_(io_, SIGINT, SIGTERM, SIGHUP),
      watchdog_(io_),
      deadline_(io_),
      kubelet_delay_(io_),
      endpoints_(io_, *this) {}

Supervisor::~Supervisor() = default;

RunResult Supervisor::run() {
  log::info("starting", {{"version", KCD_VERSION},
                         {"node", settings_.node_name},
                         {"cert_dir", settings_.cert_dir},
                         {"mode", options_.once ? "once" : "daemon"},
                         {"serving", settings_.serving}});
  endpoints_.open();
  // Signals, the one-shot timeout and the watchdog first: they hold during everything below,
  // the kubelet config patch included.
  wait_signals();
  if (options_.once) arm_timeout();
  arm_watchdog();
  // The kubelet's config file is patched (and the kubelet restarted and checked) on a worker
  // thread: the loop that pings the watchdog never waits for the kubelet. The patch's work is
  // bounded (base/yaml's limits, a linear editor), so a stop waits for it briefly at most.
  // A rollback is told to the cluster as an Event about the node, from the loop.
  kubelet_ =
      std::make_unique<KubeletWorker>([this] { asio::post(io_, [this] { endpoints_.kubelet_changed(); }); },
                                      [this](std::string detail) {
                                        asio::post(io_, [this, detail = std::move(detail)] {
                                          if (agent_) agent_->kubelet_config_rolled_back(detail);
                                        });
                                      });
  // Its D-Bus calls, `kubelet --version` and fsyncs would compete with the bootstrap's (the same
  // disk journal, two cores): the work waits for the client certificate to be settled (valid,
  // installed, denied or backing off), or kKubeletWorkDelay while a CSR awaits a slow approver.
  clock_ = std::make_unique<ClockWatch>(io_, [this] {
    if (agent_) agent_->clock_changed();
  });
  kubelet_delay_.expires_after(kKubeletWorkDelay);
  kubelet_delay_.async_wait([this](boost::system::error_code ec) {
    if (!ec) start_kubelet_work();
  });
  start_agent();
  trace::mark("agent");
  for (CertKind k : options_.renew) agent_->renew(k);
  // READY=1 as soon as the loop runs: the kubelet's start must never wait for the API server
  // (on a control-plane node the kubelet itself runs the API server as a static pod).
  asio::post(io_, [this] { notifier_.ready(); });
  io_.run();
  // A one-shot run ends after the kubelet's checks; a stop (signal) ended them already.
  kubelet_->drain();
  kubelet_.reset();
  endpoints_.close();
  // A key generation cancelled by the stop ends at OpenSSL's next callback: let it, so it never
  // runs while the process exits. A hung name resolution is not waited for.
  wait_for_off_loop_calls(std::chrono::milliseconds(500));
  notifier_.stopping();
  log::info("stopped", {{"exit_code", result_.exit_code}, {"reason", result_.message}});
  return result_;
}

std::vector<const rotation::Lifecycle*> Supervisor::lifecycles() const {
  std::vector<const rotation::Lifecycle*> out;
  if (!agent_) return out;
  for (CertKind k : kinds_) {
    if (const rotation::Lifecycle* m = agent_->lifecycle(k)) out.push_back(m);
  }
  return out;
}

ClusterCaCounts Supervisor::cluster_ca_counts() const {
  return agent_ ? agent_->cluster_ca_counts() : ClusterCaCounts{};
}

EventCounts Supervisor::event_counts() const {
  return agent_ ? agent_->event_counts() : EventCounts{};
}

KubeletSummary Supervisor::kubelet_summary() const {
  return kubelet_ ? kubelet_->summary() : KubeletSummary{};
}

Expected<void> Supervisor::renew(const std::vector<CertKind>& certs) {
  for (CertKind k : certs) {
    if (std::find(kinds_.begin(), kinds_.end(), k) == kinds_.end()) {
      return Unexpected(make_error(ErrorKind::Config,
                                   "the serving certificate is turned off (serving: false)",
                                   Location{"", 0, 0, "serving"}));
    }
  }
  for (CertKind k : certs) agent_->renew(k);
  return {};
}

void Supervisor::refresh_cis() {
  if (!kubelet_ || (!settings_.metrics_address && settings_.metrics_textfile.empty())) return;
  kubelet_->refresh_cis(settings_);
}

void Supervisor::start_kubelet_work() {
  if (kubelet_started_ || !kubelet_) return;
  kubelet_started_ = true;
  kubelet_delay_.cancel();
  kubelet_->recover(settings_);
  kubelet_->configure(settings_, "start");
  refresh_cis();  // the metrics show the CIS results from the start (a render only formats them)
}

void Supervisor::start_agent() {
  AgentEvents ev;
  ev.status = [this](CertKind, const std::string&) { publish_status(); };
  ev.condition = [this](CertKind kind, Condition c) {
    if (kind == CertKind::Client &&
        (c == Condition::Valid || c == Condition::Denied || c == Condition::Error))
      start_kubelet_work();
    // A certificate just found or made valid: its run sleeps now, for months. What the bootstrap
    // or rotation freed (TLS, JSON, PEM buffers) goes back to the system.
    if (c == Condition::Valid) asio::post(io_, [] { ::malloc_trim(0); });
    evaluate_once();
  };
  ev.serving_installed = [this](const std::filesystem::path& file) {
    start_kubelet_work();
    kubelet_->serving_changed(settings_, file);
  };
  ev.cluster_ca_changed = [this] {
    start_kubelet_work();
    kubelet_->configure(settings_, "cluster CA changed", true);
  };
  AgentTimings timings = options_.timings;
  if (clock_ && clock_->active())
    timings.max_sleep_chunk =
        std::max<std::chrono::seconds>(timings.max_sleep_chunk, kSleepChunkWithClockWatch);
  agent_ =
      std::make_unique<Agent>(io_, settings_, timings, ev,
                              production_effects(io_, options_.timings.request_timeout, settings_.cert_dir));
  kinds_ = managed_kinds(settings_);
  for (CertKind k : kinds_) {
    ++running_;
    asio::co_spawn(io_, agent_->run(k), [this](std::exception_ptr e) { on_agent_done(e); });
  }
  // A one-shot run ends with its certificates; a daemon follows the cluster CA as well.
  if (settings_.follow_cluster_ca && !options_.once) {
    ++running_;
    asio::co_spawn(io_, agent_->follow_cluster_ca(), [this](std::exception_ptr e) { on_agent_done(e); });
  }
}

void Supervisor::on_agent_done(std::exception_ptr e) {
  --running_;
  if (e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      // A bug, not an expected failure: the run ends with it.
      log::error("internal error", {{"error", ex.what()}});
      finish({kExitError, std::string("internal error: ") + ex.what()});
    }
  }
  if (running_ > 0) return;
  if (restart_pending_ && !finished_) {
    restart_pending_ = false;
    start_agent();
    return;
  }
  // Every run ended (a stop or a verdict came first, which set the result): shut the loop down.
  finish({kExitOk, {}});
}

void Supervisor::publish_status() {
  endpoints_.certificates_changed();
  std::string line;
  for (const rotation::Lifecycle* m : lifecycles())
    line += (line.empty() ? "" : "; ") + std::string(rotation::to_string(m->kind())) + ": " + m->reason();
  notifier_.status(line);
}

std::vector<CertificateProgress> Supervisor::progress() const {
  std::vector<CertificateProgress> out;
  for (CertKind k : kinds_) {
    CertificateProgress p;
    p.kind = k;
    const rotation::Lifecycle* m = agent_ ? agent_->lifecycle(k) : nullptr;
    if (m == nullptr) {
      p.reason = "not started";
      out.push_back(p);
      continue;
    }
    p.condition = m->condition();
    p.fatal_error = m->fatal_error();
    p.renewal_requested = std::find(options_.renew.begin(), options_.renew.end(), k) != options_.renew.end();
    p.installs = m->installs();
    p.reason = m->reason();
    p.last_error = m->persistent().last_error;
    p.installed = rotation::Store(settings_.cert_dir, k).current_path();
    if (m->current()) p.not_after = m->current()->not_after;
    out.push_back(std::move(p));
  }
  return out;
}

// One-shot runs end as soon as the outcome is known for every certificate.
void Supervisor::evaluate_once() {
  if (!options_.once || finished_) return;
  if (auto verdict = once_verdict(progress())) finish(std::move(*verdict));
}

void Supervisor::finish(Verdict verdict) {
  if (!finished_) {
    trace::mark("verdict");
    finished_ = true;
    result_.exit_code = verdict.code;
    result_.message = std::move(verdict.message);
  }
  // A one-shot run ends after the kubelet's work (drained after the loop): it is queued now if
  // it has not started yet (a stop has stopped the worker already, which then ignores it).
  start_kubelet_work();
  if (agent_) agent_->stop();
  signals_.cancel();
  if (clock_) clock_->close();
  watchdog_.cancel();
  deadline_.cancel();
  endpoints_.close();
}

void Supervisor::arm_timeout() {
  deadline_.expires_after(options_.timeout);
  deadline_.async_wait([this](boost::system::error_code ec) {
    if (ec || finished_) return;
    // --timeout holds for the kubelet's work too: a check cut short is finished at the next start.
    if (kubelet_) kubelet_->stop();
    finish(timeout_verdict(progress(), options_.timeout));
  });
}

void Supervisor::arm_watchdog() {
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

void Supervisor::wait_signals() {
  signals_.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload();
      wait_signals();
      return;
    }
    log::info("signal received, stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    if (kubelet_) kubelet_->stop();
    finish(stop_verdict(options_.once));
  });
}

void Supervisor::reload() {
  if (!options_.reload) return;
  notifier_.reloading();
  auto fresh = options_.reload();
  if (fresh) {
    if (auto trusted = check_written_directories(*fresh, fresh->patch_kubelet_config); !trusted)
      fresh = Unexpected(trusted.error());
  }
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
        {{"running", settings_.cert_dir}, {"new", fresh->cert_dir}, {"hint", "restart the service instead"}});
    notifier_.ready();
    return;
  }
  settings_ = *fresh;
  log::info("configuration reloaded", {{"path", settings_.config_file}});
  start_kubelet_work();
  kubelet_->configure(settings_, "configuration reloaded");
  refresh_cis();
  restart_pending_ = true;
  agent_->stop();
  notifier_.ready();
}

}  // namespace kcd::daemon
