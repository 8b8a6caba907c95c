// `kubelet-certd check [-o table|json] [--fix]`: the CIS kubelet checks on this node, and
// the fixes kubelet-certd can make (the config-file patch, file modes and owners).
#pragma once

#include "config/cis.hpp"
#include "config/settings.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace kcd::daemon {

struct CheckOptions {
  std::string output = "table";   // table | json
  bool fix = false;
  std::filesystem::path system_root = "/";  // where the kubelet's service files and /proc are read
};

struct CheckReport {
  std::vector<config::CisResult> results;
  std::vector<std::string> conflicts;  // kubelet flags that override kubelet-config.yaml
  std::vector<std::string> fixed;      // what --fix changed
  std::string command_line_origin;
  std::filesystem::path kubelet_config;
};

// Runs the checks (after the fixes, with --fix). Throws std::runtime_error naming the file
// when a fix cannot be applied; nothing else is changed then.
CheckReport run_check(const config::Settings& settings, const CheckOptions& options);

std::string render_check_table(const CheckReport& report);
nlohmann::json render_check_json(const CheckReport& report);
// 1 when any check FAILs, else 0.
int check_exit_code(const CheckReport& report);

}  // namespace kcd::daemon
