// `kubelet-certd check [-o table|json] [--fix]`: the CIS kubelet checks on this node, and
// the fixes kubelet-certd can make (the config-file patch, file modes and owners).
#pragma once

#include "kubelet/cis.hpp"
#include "kubelet/kubelet_config.hpp"
#include "config/settings.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace kcd::daemon {

struct CheckOptions {
  std::string output = "table";  // table | json
  bool fix = false;
  bool dry_run = false;                     // with fix: print the diff and the held-back keys, change nothing
  std::filesystem::path system_root = "/";  // where the kubelet's service files and /proc are read
};

struct CheckReport {
  std::vector<kubelet::CisResult> results;
  std::vector<std::string> conflicts;  // kubelet flags that override kubelet-config.yaml
  std::vector<std::string> fixed;      // what --fix changed
  std::string command_line_origin;
  std::filesystem::path kubelet_config;
  std::string kubelet;                      // the kubelet the patch is for ("v1.24.17 (running kubelet ...)")
  std::vector<kubelet::HeldKey> held_back;  // what the patch does not write, and why
  long rollbacks = 0;                       // changes rolled back so far
  std::string diff;                         // --dry-run: what --fix would write
  std::vector<std::string> ignored;         // processes named kubelet that were not believed
};

// Runs the checks (after the fixes, with --fix; with --dry-run only the plan). The config file
// patch is the daemon's, version rules, checked restart and rollback included. Throws
// std::runtime_error naming the file when a fix cannot be applied; nothing else is changed then.
Expected<CheckReport> run_check(const config::Settings& settings, const CheckOptions& options);

std::string render_check_table(const CheckReport& report);
nlohmann::json render_check_json(const CheckReport& report);
// 1 when any check FAILs, else 0.
int check_exit_code(const CheckReport& report);

}  // namespace kcd::daemon
