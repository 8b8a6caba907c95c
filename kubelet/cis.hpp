// The CIS kubelet checks (4.1.5-4.1.10, 4.2.1-4.2.14), evaluated from kube-bench's own
// definitions (config/kube-bench/cis-1.12-node.yaml, compiled in) with kube-bench's rules:
// each test item looks for its flag on the kubelet's command line first and falls back to
// the config file's JSONPath; `set` defaults to true; eq/noteq/gte/nothave/valid_elements/
// bitmask compare text the way kube-bench does; a failing scored check is FAIL, a failing
// manual one WARN.
#pragma once

#include "base/expected.hpp"
#include "kubelet/kubelet_flags.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::kubelet {

enum class CisStatus { Pass, Fail, Warn };
std::string_view to_string(CisStatus s);

struct CisResult {
  std::string id, title;
  CisStatus status = CisStatus::Warn;
  bool scored = false;
  std::string evidence;     // what was looked at and what it said
  std::string remediation;  // kube-bench's text with the node's paths filled in (+ our notes)
  bool fixable = false;     // `kubelet-certd check --fix` can fix it
};

// Where the facts come from. Paths are the node's real paths; `root` prefixes them when
// reading (tests use a temporary tree).
struct CisInputs {
  std::filesystem::path root = "/";
  std::filesystem::path kubelet_config;  // $kubeletconf (--config on the command line wins)
  std::filesystem::path kubeconfig;      // $kubeletkubeconfig (--kubeconfig wins)
  std::filesystem::path client_ca_file;  // $kubeletcafile when neither flag nor file names one
  KubeletCommandLine command_line;       // read_kubelet_command_line(root)
};

// A parsed definitions file (kube-bench's node.yaml).
struct CisCheckDefinition;
struct CisDefinitions {
  std::vector<CisCheckDefinition> checks;
  ~CisDefinitions();
  CisDefinitions();
  CisDefinitions(CisDefinitions&&) noexcept;
  CisDefinitions& operator=(CisDefinitions&&) noexcept;
};
// The built-in definitions (parsed once).
const CisDefinitions& builtin_cis_definitions();
// Parses a kube-bench node.yaml; errors name the check and the field.
Expected<CisDefinitions, std::string> parse_cis_definitions(std::string_view yaml);

// The ids kubelet-certd reports.
bool cis_check_in_scope(std::string_view id);

std::vector<CisResult> run_cis_checks(const CisInputs& in,
                                      const CisDefinitions& defs = builtin_cis_definitions());

// kube-bench's value comparison (exposed for tests).
bool cis_compare(std::string_view op, const std::string& value, const std::string& want);
// kube-bench's JSONPath subset over a YAML/JSON document: "{.a.b}" and
// "{range .a[:]}{}{','}{end}". Values print as Go's yaml.v2 + jsonpath print them
// (YAML 1.1 booleans, integers in decimal). nullopt: the path is not supported.
std::optional<std::string> cis_jsonpath(const std::string& document, std::string_view path);

}  // namespace kcd::kubelet
