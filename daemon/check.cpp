#include "daemon/check.hpp"

#include "daemon/kubelet_setup.hpp"
#include "daemon/kubelet_worker.hpp"
#include "daemon/settings_check.hpp"
#include "systemd/dbus.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace kcd::daemon {

namespace fs = std::filesystem;

namespace {

// Lowers a file's mode to `mask` (600 / 644) and makes it root:root; adds what it did to `fixed`.
Expected<void> tighten(const fs::path& file, mode_t mask, std::vector<std::string>& fixed) {
  struct stat st {};
  if (file.empty() || ::stat(file.c_str(), &st) != 0) return {};
  const mode_t mode = st.st_mode & 07777;
  if ((mode & ~mask) != 0) {
    if (::chmod(file.c_str(), mode & mask) != 0) return Unexpected(io_error("chmod", file.string(), errno));
    char buf[64];
    std::snprintf(buf, sizeof buf, ": mode %o -> %o", static_cast<unsigned>(mode),
                  static_cast<unsigned>(mode & mask));
    fixed.push_back(file.string() + buf);
  }
  if ((st.st_uid != 0 || st.st_gid != 0) && ::geteuid() == 0) {
    if (::chown(file.c_str(), 0, 0) != 0) return Unexpected(io_error("chown", file.string(), errno));
    fixed.push_back(file.string() + ": owner -> root:root");
  }
  return {};
}

const kubelet::KubeletFlag* flag(const kubelet::CisInputs& in, const char* name) {
  return in.command_line.find(name);
}

}  // namespace

Expected<CheckReport> run_check(const config::Settings& settings, const CheckOptions& options) {
  CheckReport report;
  KubeletContext ctx;
  ctx.root = options.system_root;
  if (options.system_root == "/") {
    if (const auto st = systemd::unit_state(settings.kubelet_unit)) ctx.main_pid = st->main_pid;
  }
  kubelet::CisInputs in = cis_inputs(settings, ctx);
  // The files the kubelet really uses: its flags win over our settings.
  const fs::path conf = kubelet::cis_kubelet_config(in.command_line, settings.kubelet_config);
  const fs::path kubeconfig = kubelet::cis_kubeconfig(in.command_line, settings.kubeconfig);
  report.kubelet_config = conf;
  report.command_line_origin = in.command_line.origin;
  report.ignored = in.command_line.ignored;

  // What the patch would do on this node (the version rules decide what it holds back).
  config::Settings s = settings;
  s.patch_kubelet_config = true;
  s.kubelet_config = conf;
  // A malformed file fails its checks (line:column in the evidence); only --fix must stop here.
  auto plan = plan_kubelet(s, ctx);
  if (!plan && options.fix) return Unexpected(plan.error());
  if (plan) {
    report.kubelet = plan->kubelet.describe();
    report.held_back = plan->patch.held_back;
    report.rollbacks = plan->state.rollbacks;
  }

  if (options.fix && options.dry_run) {
    report.diff = plan->diff();
  } else if (options.fix) {
    if (auto trusted = check_written_directories(s, true); !trusted) return Unexpected(trusted.error());
    SystemKubeletEffects fx(settings.kubelet_unit, nullptr);
    auto applied = apply_kubelet_plan(s, *plan, &fx, health_policy(settings));
    if (!applied) return Unexpected(applied.error());
    const KubeletChange& change = *applied;
    if (change.ca_written)
      report.fixed.push_back(s.client_ca_file.string() + ": written from the kubeconfig's CA");
    if (change.ca_updated)
      report.fixed.push_back(s.client_ca_file.string() + ": updated to the kubeconfig's CA bundle");
    if (!plan->ca_refused.empty()) report.fixed.push_back("not written: " + plan->ca_refused);
    for (const auto& c : change.changes) report.fixed.push_back(conf.string() + ": " + c);
    if (!change.backup.empty())
      report.fixed.push_back(conf.string() + ": previous version kept as " + change.backup.string());
    fs::path ca = settings.client_ca_file;
    if (const auto* f = flag(in, "--client-ca-file")) ca = f->value;
    for (const auto& [file, mask] :
         {std::pair{kubeconfig, mode_t{0600}}, {conf, mode_t{0600}}, {ca, mode_t{0644}}}) {
      if (auto tightened = tighten(file, mask, report.fixed); !tightened)
        return Unexpected(tightened.error());
    }
    const std::string unit = settings.kubelet_unit;
    switch (change.result) {
      case KubeletChange::Result::Unchanged:
        break;
      case KubeletChange::Result::Written:
        report.fixed.push_back("restart the kubelet to apply it: systemctl restart " + unit +
                               (change.detail.empty() ? std::string() : " (" + change.detail + ")"));
        break;
      case KubeletChange::Result::NotRestarted:
        report.fixed.push_back(unit + ": restart failed (" + change.detail +
                               "); restart it by hand: systemctl restart " + unit);
        break;
      case KubeletChange::Result::Healthy:
        report.fixed.push_back(unit + ": restarted, active (running) and healthy");
        break;
      case KubeletChange::Result::RolledBack:
      case KubeletChange::Result::RollbackFailed:
        report.fixed.push_back(unit + ": did not come back (" + change.detail + "); " + conf.string() +
                               " restored, keys not written again: " + [&] {
                                 std::string k;
                                 for (const auto& x : change.refused_keys) k += (k.empty() ? "" : ", ") + x;
                                 return k;
                               }());
        for (const auto& line : change.journal) report.fixed.push_back("  kubelet: " + line);
        report.rollbacks++;
        break;
      case KubeletChange::Result::Interrupted:
        report.fixed.push_back(unit + ": check interrupted");
        break;
      case KubeletChange::Result::Unhealthy:
        report.fixed.push_back(unit + ": did not come back after the client CA change (" + change.detail +
                               ")");
        break;
    }
    if (change.result == KubeletChange::Result::RolledBack ||
        change.result == KubeletChange::Result::RollbackFailed) {
      // What is held back now includes what the rollback refused.
      if (auto again = plan_kubelet(s, ctx)) report.held_back = again->patch.held_back;
    }
  }
  report.conflicts = kubelet_flag_conflicts(settings, in.command_line);
  report.results = kubelet::run_cis_checks(in, report.held_back);
  return report;
}

std::string render_check_table(const CheckReport& r) {
  std::ostringstream out;
  int pass = 0, fail = 0, warn = 0;
  out << "[INFO] CIS kubelet checks (kube-bench cis-1.12 node definitions), config "
      << r.kubelet_config.string() << ", command line from "
      << (r.command_line_origin.empty() ? std::string("nowhere (no kubelet found)") : r.command_line_origin)
      << "\n";
  if (!r.kubelet.empty()) out << "[INFO] kubelet " << r.kubelet << "\n";
  for (const auto& i : r.ignored) out << "[INFO] ignored a process named kubelet: " << i << "\n";
  for (const auto& c : r.results) {
    const auto st = kubelet::to_string(c.status);
    (c.status == kubelet::CisStatus::Pass ? pass : c.status == kubelet::CisStatus::Fail ? fail : warn)++;
    out << "[" << st << "] " << c.id << " " << c.title << "\n";
    out << "       evidence: " << c.evidence << "\n";
    if (c.status != kubelet::CisStatus::Pass) {
      std::istringstream rem(c.remediation);
      bool first = true;
      for (std::string line; std::getline(rem, line);) {
        out << (first ? "       remediation: " : "         ") << line << "\n";
        first = false;
      }
    }
  }
  if (!r.conflicts.empty()) {
    out << "\nkubelet flags that override kubelet-config.yaml:\n";
    for (const auto& c : r.conflicts) out << "  " << c << "\n";
  }
  if (!r.held_back.empty()) {
    out << "\nnot written to " << r.kubelet_config.string() << " (this kubelet would refuse them):\n";
    for (const auto& h : r.held_back)
      out << "  " << h.key << (h.cis.empty() ? "" : " (CIS " + h.cis + ")") << ": " << h.reason << "\n";
  }
  if (r.rollbacks > 0) out << "\nkubelet config changes rolled back so far: " << r.rollbacks << "\n";
  if (!r.diff.empty()) out << "\nwould write (--dry-run, nothing changed):\n" << r.diff;
  if (!r.fixed.empty()) {
    out << "\nfixed:\n";
    for (const auto& f : r.fixed) out << "  " << f << "\n";
  }
  out << "\n== Summary ==\n"
      << pass << " checks PASS\n"
      << fail << " checks FAIL\n"
      << warn << " checks WARN\n";
  return out.str();
}

nlohmann::json render_check_json(const CheckReport& r) {
  nlohmann::json checks = nlohmann::json::array();
  int pass = 0, fail = 0, warn = 0;
  for (const auto& c : r.results) {
    (c.status == kubelet::CisStatus::Pass ? pass : c.status == kubelet::CisStatus::Fail ? fail : warn)++;
    checks.push_back({{"id", c.id},
                      {"title", c.title},
                      {"status", kubelet::to_string(c.status)},
                      {"scored", c.scored},
                      {"evidence", c.evidence},
                      {"remediation", c.remediation},
                      {"fixable", c.fixable}});
  }
  nlohmann::json held = nlohmann::json::array();
  for (const auto& h : r.held_back) held.push_back({{"key", h.key}, {"cis", h.cis}, {"reason", h.reason}});
  return {{"checks", checks},
          {"summary", {{"pass", pass}, {"fail", fail}, {"warn", warn}}},
          {"kubeletConfig", r.kubelet_config.string()},
          {"commandLineFrom", r.command_line_origin},
          {"conflicts", r.conflicts},
          {"fixed", r.fixed},
          {"kubelet", r.kubelet},
          {"heldBack", held},
          {"rollbacks", r.rollbacks},
          {"diff", r.diff}};
}

int check_exit_code(const CheckReport& r) {
  for (const auto& c : r.results) {
    if (c.status == kubelet::CisStatus::Fail) return 1;
  }
  return 0;
}

}  // namespace kcd::daemon
