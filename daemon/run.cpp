#include "daemon/run.hpp"

#include "config/rfc3339.hpp"
#include "rotation/atomic_file.hpp"
#include "rotation/store.hpp"
#include "systemd/log.hpp"
#include "systemd/notify.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>

namespace kcd::daemon {

namespace asio = boost::asio;
using rotation::CertKind;
using rotation::Condition;

namespace {

// One instance per node: an exclusive lock on certDir/kubelet-certd.lock held for the
// process lifetime (released by the kernel on any exit, even SIGKILL).
class InstanceLock {
 public:
  explicit InstanceLock(const std::filesystem::path& dir) : path_(dir / "kubelet-certd.lock") {}
  ~InstanceLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::string acquire() {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) return "cannot open lock file " + path_.string() + ": " + std::strerror(errno);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return "another kubelet-certd is already running for " + path_.parent_path().string() + " (it holds " +
               path_.string() + "); stop it first (systemctl stop kubelet-certd) or use its control commands";
      }
      return "cannot lock " + path_.string() + ": " + std::strerror(errno);
    }
    return {};
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

std::string describe_installed(const config::Settings& settings, const rotation::Lifecycle& m) {
  std::string out = "client certificate valid: " + rotation::Store(settings.cert_dir, CertKind::Client).current_path().string();
  if (m.current()) out += " (CN=" + m.current()->common_name + ", not after " + to_rfc3339(m.current()->not_after) + ")";
  return out;
}

class Supervisor {
 public:
  Supervisor(config::Settings settings, RunOptions options)
      : settings_(std::move(settings)), options_(std::move(options)), signals_(io_, SIGINT, SIGTERM, SIGHUP),
        watchdog_(io_), deadline_(io_) {}

  RunResult run() {
    log::info("starting", {{"version", KCD_VERSION}, {"node", settings_.node_name}, {"cert_dir", settings_.cert_dir},
                           {"mode", options_.once ? "once" : "daemon"}});
    wait_signals();
    start_agent();
    if (options_.once) arm_timeout();
    arm_watchdog();
    // READY=1 as soon as the loop runs: the kubelet's start must never wait for the API server
    // (on a control-plane node the kubelet itself runs the API server as a static pod).
    asio::post(io_, [this] { notifier_.ready(); });
    io_.run();
    notifier_.stopping();
    log::info("stopped", {{"exit_code", result_.exit_code}, {"reason", result_.message}});
    return result_;
  }

 private:
  void start_agent() {
    AgentEvents ev;
    ev.status = [this](CertKind, const std::string& status) { notifier_.status(status); };
    ev.condition = [this](CertKind kind, Condition c) { on_condition(kind, c); };
    agent_ = std::make_unique<Agent>(io_, settings_, options_.tuning, ev);
    ++running_;
    asio::co_spawn(io_, agent_->run(CertKind::Client), [this](std::exception_ptr e) { on_agent_done(e); });
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

  void on_condition(CertKind kind, Condition c) {
    if (!options_.once || finished_) return;
    const rotation::Lifecycle* m = agent_->lifecycle(kind);
    switch (c) {
      case Condition::Valid:
        finish(kExitOk, describe_installed(settings_, *m));
        break;
      case Condition::Denied:
        finish(kExitDenied, m->persistent().last_error);
        break;
      case Condition::Error:
        if (m->fatal_error()) finish(kExitError, m->persistent().last_error);
        break;
      default:
        break;
    }
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
  }

  void arm_timeout() {
    deadline_.expires_after(options_.timeout);
    deadline_.async_wait([this](boost::system::error_code ec) {
      if (ec || finished_) return;
      const rotation::Lifecycle* m = agent_->lifecycle(CertKind::Client);
      const auto c = m ? m->condition() : Condition::Starting;
      std::string why = m ? m->reason() : std::string("not started");
      if (c == Condition::AwaitingApproval || c == Condition::AwaitingSigner) {
        finish(kExitPending, "timed out: " + why);
      } else {
        std::string err = m ? m->persistent().last_error : std::string();
        finish(kExitError, "timed out: " + (err.empty() ? why : err));
      }
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
      finish(options_.once ? kExitError : kExitOk, options_.once ? "interrupted" : "stopped by signal");
    });
  }

  void reload() {
    if (!options_.reload) return;
    notifier_.reloading();
    auto fresh = options_.reload();
    if (!fresh) {
      log::error("configuration reload failed, keeping the running configuration", {{"error", fresh.error().format()}});
      notifier_.ready();
      return;
    }
    log::set_level(fresh->log_level);
    settings_ = *fresh;
    log::info("configuration reloaded", {{"path", settings_.config_file}});
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
  std::unique_ptr<Agent> agent_;
  int running_ = 0;
  bool finished_ = false;
  bool restart_pending_ = false;
  RunResult result_;
};

}  // namespace

RunResult run(const config::Settings& settings, const RunOptions& options) {
  InstanceLock lock(settings.cert_dir);
  try {
    rotation::ensure_directory(settings.cert_dir, 0755);
  } catch (const std::exception& e) {
    return RunResult{kExitError, e.what()};
  }
  if (std::string err = lock.acquire(); !err.empty()) return RunResult{kExitError, err};
  Supervisor supervisor(settings, options);
  return supervisor.run();
}

}  // namespace kcd::daemon
