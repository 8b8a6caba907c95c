#include "daemon/check.hpp"

#include "daemon/kubelet_setup.hpp"
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

// Lowers a file's mode to `mask` (600 / 644) and makes it root:root; returns what it did.
void tighten(const fs::path& file, mode_t mask, std::vector<std::string>& fixed) {
  struct stat st {};
  if (file.empty() || ::stat(file.c_str(), &st) != 0) return;
  const mode_t mode = st.st_mode & 07777;
  if ((mode & ~mask) != 0) {
    if (::chmod(file.c_str(), mode & mask) != 0) {
      throw std::runtime_error("chmod " + file.string() + ": " + std::strerror(errno));
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, ": mode %o -> %o", static_cast<unsigned>(mode), static_cast<unsigned>(mode & mask));
    fixed.push_back(file.string() + buf);
  }
  if ((st.st_uid != 0 || st.st_gid != 0) && ::geteuid() == 0) {
    if (::chown(file.c_str(), 0, 0) != 0) throw std::runtime_error("chown " + file.string() + ": " + std::strerror(errno));
    fixed.push_back(file.string() + ": owner -> root:root");
  }
}

const config::KubeletFlag* flag(const config::CisInputs& in, const char* name) { return in.command_line.find(name); }

}  // namespace

CheckReport run_check(const config::Settings& settings, const CheckOptions& options) {
  CheckReport report;
  config::CisInputs in = cis_inputs(settings, options.system_root);
  // The files the kubelet really uses: its flags win over our settings.
  const fs::path conf = flag(in, "--config") ? fs::path(flag(in, "--config")->value) : settings.kubelet_config;
  const fs::path kubeconfig = flag(in, "--kubeconfig") ? fs::path(flag(in, "--kubeconfig")->value) : settings.kubeconfig;
  report.kubelet_config = conf;
  report.command_line_origin = in.command_line.origin;

  if (options.fix) {
    config::Settings s = settings;
    s.patch_kubelet_config = true;
    s.kubelet_config = conf;
    const KubeletSetup setup = configure_kubelet(s, options.system_root);
    if (setup.ca_written) report.fixed.push_back(s.client_ca_file.string() + ": written from the kubeconfig's CA");
    for (const auto& c : setup.changes) report.fixed.push_back(conf.string() + ": " + c);
    if (!setup.backup.empty()) report.fixed.push_back(conf.string() + ": previous version kept as " + setup.backup.string());
    tighten(kubeconfig, 0600, report.fixed);
    tighten(conf, 0600, report.fixed);
    fs::path ca = settings.client_ca_file;
    if (const auto* f = flag(in, "--client-ca-file")) ca = f->value;
    tighten(ca, 0644, report.fixed);
    if (setup.config_changed) {
      // The kubelet reads its config file only at start.
      if (settings.kubelet_restart == "never") {
        report.fixed.push_back("restart the kubelet to apply it: systemctl restart " + settings.kubelet_unit);
      } else if (auto restarted = systemd::try_restart_unit(settings.kubelet_unit); restarted.ok) {
        report.fixed.push_back(settings.kubelet_unit + ": restart requested");
      } else {
        report.fixed.push_back(settings.kubelet_unit + ": restart failed (" + restarted.error +
                               "); restart it by hand: systemctl restart " + settings.kubelet_unit);
      }
    }
  }
  report.conflicts = kubelet_flag_conflicts(settings, in.command_line);
  report.results = config::run_cis_checks(in);
  return report;
}

std::string render_check_table(const CheckReport& r) {
  std::ostringstream out;
  int pass = 0, fail = 0, warn = 0;
  out << "[INFO] CIS kubelet checks (kube-bench cis-1.12 node definitions), config " << r.kubelet_config.string()
      << ", command line from " << (r.command_line_origin.empty() ? std::string("nowhere (no kubelet found)") : r.command_line_origin)
      << "\n";
  for (const auto& c : r.results) {
    const auto st = config::to_string(c.status);
    (c.status == config::CisStatus::Pass ? pass : c.status == config::CisStatus::Fail ? fail : warn)++;
    out << "[" << st << "] " << c.id << " " << c.title << "\n";
    out << "       evidence: " << c.evidence << "\n";
    if (c.status != config::CisStatus::Pass) {
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
  if (!r.fixed.empty()) {
    out << "\nfixed:\n";
    for (const auto& f : r.fixed) out << "  " << f << "\n";
  }
  out << "\n== Summary ==\n" << pass << " checks PASS\n" << fail << " checks FAIL\n" << warn << " checks WARN\n";
  return out.str();
}

nlohmann::json render_check_json(const CheckReport& r) {
  nlohmann::json checks = nlohmann::json::array();
  int pass = 0, fail = 0, warn = 0;
  for (const auto& c : r.results) {
    (c.status == config::CisStatus::Pass ? pass : c.status == config::CisStatus::Fail ? fail : warn)++;
    checks.push_back({{"id", c.id},
                      {"title", c.title},
                      {"status", config::to_string(c.status)},
                      {"scored", c.scored},
                      {"evidence", c.evidence},
                      {"remediation", c.remediation},
                      {"fixable", c.fixable}});
  }
  return {{"checks", checks},
          {"summary", {{"pass", pass}, {"fail", fail}, {"warn", warn}}},
          {"kubeletConfig", r.kubelet_config.string()},
          {"commandLineFrom", r.command_line_origin},
          {"conflicts", r.conflicts},
          {"fixed", r.fixed}};
}

int check_exit_code(const CheckReport& r) {
  for (const auto& c : r.results) {
    if (c.status == config::CisStatus::Fail) return 1;
  }
  return 0;
}

}  // namespace kcd::daemon
