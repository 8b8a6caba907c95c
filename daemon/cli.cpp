#include "daemon/cli.hpp"

#include "base/duration.hpp"
#include "base/trace.hpp"
#include "config/settings.hpp"
#include "config/kubeconfig.hpp"
#include "daemon/approve.hpp"
#include "daemon/check.hpp"
#include "daemon/control.hpp"
#include "daemon/run.hpp"
#include "daemon/settings_check.hpp"
#include "daemon/status.hpp"
#include "systemd/log.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>

namespace kcd::daemon {

namespace {

int report_config_error(const Error& e) {
  std::cerr << "kubelet-certd: " << e.format() << "\n";
  return kExitConfig;
}

// A duration flag written the way kubelet users write them: 90s, 5m, 1h.
struct DurationFlag {
  std::string text;
  std::chrono::milliseconds parsed{};
};

CLI::Option* add_duration(CLI::App& app, const std::string& name, DurationFlag& flag,
                          const std::string& help) {
  return app.add_option(name, flag.text, help)->check([&flag, name](const std::string& v) -> std::string {
    auto d = kcd::parse_duration(v);
    if (!d) return name + ": " + d.error().message;
    flag.parsed = *d;
    return {};
  });
}

std::string names_of(const std::vector<rotation::CertKind>& kinds) {
  std::string out;
  for (auto k : kinds) out += (out.empty() ? "" : ", ") + std::string(rotation::to_string(k));
  return out;
}

// `renew`: through the running daemon's control socket, or in-process under the lock.
int renew(const config::Settings& settings, const std::vector<rotation::CertKind>& kinds, bool once,
          std::chrono::milliseconds timeout, const AgentTimings& timings) {
  auto reply = request_renewal(settings.cert_dir, kinds);
  if (!reply) {
    std::cerr << "kubelet-certd: " << reply.error().format() << "\n";
    return kExitError;
  }
  if (!*reply) {
    // No daemon: rotate here, holding the same lock a daemon would.
    RunOptions options;
    options.once = true;
    options.renew = kinds;
    options.timeout = timeout;
    options.timings = timings;
    RunResult result = run(settings, options);
    std::FILE* out = result.exit_code == kExitOk ? stdout : stderr;
    std::fprintf(out, "kubelet-certd: %s\n", log::redact(result.message).c_str());
    return result.exit_code;
  }
  if (!once) {
    std::cout << "kubelet-certd: renewal of " << names_of(kinds) << " requested from the running daemon\n";
    return kExitOk;
  }
  const StatusReply before = (*reply)->before;
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto status = request_status(settings.cert_dir);
    if (!status) {
      std::cerr << "kubelet-certd: " << status.error().format() << "\n";
      return kExitError;
    }
    if (!*status) {
      std::cerr << "kubelet-certd: the daemon went away while renewing\n";
      return kExitError;
    }
    // The exit code comes from the daemon's typed conditions, as run --once decides in-process.
    const auto progress = renewal_progress(**status, before, kinds);
    if (auto verdict = once_verdict(progress)) {
      if (verdict->code == kExitOk) {
        std::cout << "kubelet-certd: renewed " << names_of(kinds) << "\n";
      } else {
        std::cerr << "kubelet-certd: " << log::redact(verdict->message) << "\n";
      }
      return verdict->code;
    }
    if (std::chrono::steady_clock::now() >= until) {
      const Verdict verdict = timeout_verdict(progress, timeout);
      std::cerr << "kubelet-certd: " << log::redact(verdict.message) << "\n";
      return verdict.code;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Timings that tests and the demo shorten (hidden from --help).
struct TimingFlags {
  DurationFlag watch_timeout{"", {}}, backoff_initial{"", {}}, backoff_cap{"", {}};

  void add_to(CLI::App& app) {
    add_duration(app, "--watch-timeout", watch_timeout, "")->group("");
    add_duration(app, "--backoff-initial", backoff_initial, "")->group("");
    add_duration(app, "--backoff-cap", backoff_cap, "")->group("");
  }

  AgentTimings timings() const {
    AgentTimings t;
    if (!watch_timeout.text.empty()) {
      t.watch_timeout = std::max(std::chrono::seconds(1),
                                 std::chrono::duration_cast<std::chrono::seconds>(watch_timeout.parsed));
      t.watch_grace = std::max(std::chrono::seconds(1), t.watch_timeout / 2);
    }
    if (!backoff_initial.text.empty()) t.backoff.initial = backoff_initial.parsed;
    if (!backoff_cap.text.empty()) t.backoff.cap = backoff_cap.parsed;
    return t;
  }
};

}  // namespace

int cli_main(int argc, char** argv) {
  CLI::App app{
      "kubelet-certd: obtains and rotates the kubelet's client certificate from the Kubernetes API server",
      "kubelet-certd"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("kubelet-certd ") + KCD_VERSION);

  // run
  CLI::App* run_cmd = app.add_subcommand("run", "Run the agent (as a daemon, or with --once until done)");
  config::SettingFlags run_flags;
  run_flags.add_to(*run_cmd);
  bool once = false;
  run_cmd->add_flag(
      "--once", once,
      "Do what is due, then exit: 0 valid certificate installed, 1 error, 3 still pending approval at "
      "--timeout, 4 denied/failed/rejected");
  DurationFlag timeout{"5m", std::chrono::minutes(5)};
  add_duration(*run_cmd, "--timeout", timeout, "With --once: how long to wait for pending work (default 5m)");
  // Timings for tests and demos; hidden from --help.
  TimingFlags run_timings;
  run_timings.add_to(*run_cmd);

  // renew
  CLI::App* renew_cmd = app.add_subcommand(
      "renew", "Rotate a certificate now: asks the running daemon, or rotates in-process when none runs");
  config::SettingFlags renew_flags;
  renew_flags.add_to(*renew_cmd);
  std::string which = "all";
  renew_cmd->add_option("which", which, "client, serving or all")
      ->check(CLI::IsMember({"client", "serving", "all"}));
  bool renew_once = false;
  renew_cmd->add_flag("--once", renew_once,
                      "Wait until the new certificate(s) are installed (same exit codes as run --once)");
  DurationFlag renew_timeout{"5m", std::chrono::minutes(5)};
  add_duration(*renew_cmd, "--timeout", renew_timeout,
               "How long to wait for the new certificate(s) (default 5m)");
  TimingFlags renew_timings;
  renew_timings.add_to(*renew_cmd);

  // status
  CLI::App* status_cmd = app.add_subcommand("status",
                                            "Show every certificate: path, subject, SANs, issuer, expiry, "
                                            "rotation deadline, pending CSR, last error "
                                            "(exit 1 when one is missing or expired)");
  config::SettingFlags status_flags;
  status_flags.add_to(*status_cmd);
  std::string status_output = "table";
  status_cmd->add_option("-o,--output", status_output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));

  // check
  CLI::App* check_cmd = app.add_subcommand(
      "check",
      "Report the CIS kubelet checks 4.1.5-4.1.10 and 4.2.1-4.2.14 as kube-bench evaluates them "
      "(exit 1 when one FAILs); --fix patches kubelet-config.yaml and file modes/owners");
  config::SettingFlags check_flags;
  check_flags.add_to(*check_cmd);
  CheckOptions check_options;
  check_cmd->add_option("-o,--output", check_options.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  check_cmd->add_flag("--fix", check_options.fix,
                      "Apply the kubelet-config.yaml patch and the file mode/owner fixes first");
  check_cmd
      ->add_flag(
          "--dry-run", check_options.dry_run,
          "With --fix: print the unified diff --fix would write and the keys it holds back; change nothing")
      ->needs("--fix");
  check_cmd
      ->add_option("--system-root", check_options.system_root,
                   "Where the kubelet's service files and /proc are read (tests)")
      ->group("");

  // check-config
  CLI::App* check_config_cmd = app.add_subcommand(
      "check-config", "Validate the configuration and the flags, then exit (0 valid, 2 invalid)");
  config::SettingFlags check_config_flags;
  check_config_flags.add_to(*check_config_cmd);

  // approve
  CLI::App* approve_cmd = app.add_subcommand(
      "approve",
      "Approve kubernetes.io/kubelet-serving CSRs whose SANs are their Node's addresses (control-plane "
      "nodes; one leader on the Lease kube-system/kubelet-certd-approver)");
  config::SettingFlags approve_flags;
  approve_flags.add_to(*approve_cmd, config::SettingScope::Approver);
  DurationFlag lease_duration{"", {}}, renew_deadline{"", {}}, retry_period{"", {}};
  // client-go's timings (15 s, 10 s, 2 s) unless tests shorten them; hidden from --help.
  add_duration(*approve_cmd, "--lease-duration", lease_duration, "")->group("");
  add_duration(*approve_cmd, "--renew-deadline", renew_deadline, "")->group("");
  add_duration(*approve_cmd, "--retry-period", retry_period, "")->group("");

  app.add_subcommand("version", "Print the version")->callback([] {
    std::cout << "kubelet-certd " << KCD_VERSION << "\n";
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitConfig;
  }

  const auto env = config::system_environment();
  if (*check_config_cmd) {
    auto settings = load_checked_settings(check_config_flags, env);
    if (!settings) return report_config_error(settings.error());
    // The kubeconfigs are configuration too: each one present must load (a missing bootstrap
    // kubeconfig is normal once the node has joined).
    for (const auto& path : {settings->kubeconfig, settings->bootstrap_kubeconfig}) {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) continue;
      if (auto kc = config::load_kubeconfig(path); !kc) return report_config_error(kc.error());
    }
    std::cout << "configuration valid"
              << (settings->config_file.empty() ? std::string(" (no config file; defaults and flags)")
                                                : " (" + settings->config_file.string() + ")")
              << "\n";
    return kExitOk;
  }
  if (*check_cmd) {
    auto settings = load_checked_settings(check_flags, env);
    if (!settings) return report_config_error(settings.error());
    const auto report = run_check(*settings, check_options);
    if (!report) {
      std::cerr << "kubelet-certd: check --fix: " << report.error().format() << "\n";
      return kExitError;
    }
    if (check_options.output == "json") {
      std::cout << render_check_json(*report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
    } else {
      std::cout << render_check_table(*report);
    }
    return check_exit_code(*report);
  }
  if (*status_cmd) {
    auto settings = load_checked_settings(status_flags, env);
    if (!settings) return report_config_error(settings.error());
    // The running daemon's live view, when one answers; the files alone otherwise.
    std::optional<StatusReply> daemon;
    std::string daemon_problem;
    if (auto asked = request_status(settings->cert_dir, std::chrono::seconds(2)); asked) {
      daemon = *asked;
    } else {
      daemon_problem = asked.error().format();
      std::cerr << "kubelet-certd: the running daemon's status is unavailable: " << daemon_problem << "\n";
    }
    const auto now = std::chrono::system_clock::now();
    const auto all = collect_status(*settings, daemon);
    const KubeletStatus kubelet_status = collect_kubelet_status(*settings, daemon);
    if (status_output == "json") {
      auto j = render_status_json(all, now);
      j["kubeletConfig"] = kubelet_status_json(kubelet_status);
      if (daemon) {
        j["daemon"] = nlohmann::json{{"running", true}, {"pid", daemon->pid}};
      } else if (!daemon_problem.empty()) {
        j["daemon"] = nlohmann::json{{"running", true}, {"error", daemon_problem}};
      } else {
        j["daemon"] = nlohmann::json{{"running", false}};
      }
      std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      std::cout << render_status_table(all, now);
      std::cout << render_kubelet_status(kubelet_status);
      std::cout << "\ndaemon: "
                << (daemon ? "running (pid " + std::to_string(daemon->pid) + ")"
                    : !daemon_problem.empty()
                        ? "running, but its status is unavailable (" + daemon_problem + ")"
                        : std::string("not running"))
                << "\n";
    }
    return status_exit_code(all, now);
  }
  if (*renew_cmd) {
    auto settings = load_checked_settings(renew_flags, env);
    if (!settings) return report_config_error(settings.error());
    log::init(log::Target::Auto, config::to_string(settings->log_level));
    std::vector<rotation::CertKind> kinds;
    if (which == "client" || which == "all") kinds.push_back(rotation::CertKind::Client);
    if (which == "serving" || (which == "all" && settings->serving))
      kinds.push_back(rotation::CertKind::Serving);
    if (kinds.empty() || (which == "serving" && !settings->serving)) {
      std::cerr << "kubelet-certd: the serving certificate is turned off (serving: false)\n";
      return kExitConfig;
    }
    return renew(*settings, kinds, renew_once, renew_timeout.parsed, renew_timings.timings());
  }
  if (*approve_cmd) {
    auto settings = load_checked_settings(approve_flags, env);
    if (!settings) return report_config_error(settings.error());
    log::init(log::Target::Auto, config::to_string(settings->log_level));
    ApproveOptions options;
    const auto secs = [](const DurationFlag& f) -> std::optional<std::chrono::seconds> {
      if (f.text.empty()) return std::nullopt;
      return std::max(std::chrono::seconds(1), std::chrono::duration_cast<std::chrono::seconds>(f.parsed));
    };
    options.lease_duration = secs(lease_duration);
    options.renew_deadline = secs(renew_deadline);
    options.retry_period = secs(retry_period);
    return run_approver(*settings, options);
  }
  if (*run_cmd) {
    auto settings = load_checked_settings(run_flags, env);
    if (!settings) return report_config_error(settings.error());
    log::init(log::Target::Auto, config::to_string(settings->log_level));
    trace::mark("settings");
    RunOptions options;
    options.once = once;
    options.timeout = timeout.parsed;
    options.timings = run_timings.timings();
    options.reload = [&run_flags, env] { return load_checked_settings(run_flags, env); };
    RunResult result = run(*settings, options);
    if (once || result.exit_code != kExitOk) {
      std::FILE* out = result.exit_code == kExitOk ? stdout : stderr;
      std::fprintf(out, "kubelet-certd: %s\n", log::redact(result.message).c_str());
    }
    return result.exit_code;
  }
  return kExitOk;
}

}  // namespace kcd::daemon
