// kube-bench's own semantics (check/check.go, check/test.go), applied to the facts
// kubelet-certd reads instead of kube-bench's audit commands: which files its variables name
// (the kubelet's flags win over the settings), how a flag is found in an audit's output, how a
// JSONPath prints a yaml.v2 value, the compare ops, set / not set, bin_op and/or, the verdict of
// a scored and a manual check, and the remediation texts with the variables filled in.
#pragma once

#include "base/expected.hpp"
#include "kubelet/cis_definitions.hpp"
#include "kubelet/kubelet_flags.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::kubelet {

// kube-bench's states for a check (INFO is not used by the kubelet checks).
enum class CisStatus { Pass, Fail, Warn };
std::string_view to_string(CisStatus s);

// kube-bench's compareOp: booleans compare case-insensitively, gt/gte/lt/lte need integers
// (Atoi), bitmask reads octal modes, valid_elements splits on commas.
bool cis_compare(CisCompareOp op, const std::string& value, const std::string& want);
// The same by name; an unknown op compares false, as in kube-bench.
bool cis_compare(std::string_view op, const std::string& value, const std::string& want);

// A kubelet config file as kube-bench's audit_config (`cat $kubeletconf`) and yaml.v2 read it.
class CisConfigDocument {
 public:
  // An ErrorKind::Corrupt error at the file's line and column when it is not YAML (or JSON).
  static Expected<CisConfigDocument> parse(const std::string& text, const std::string& file);
  // The value at `path` as k8s jsonpath prints yaml.v2's values (YAML 1.1 booleans, integers
  // in decimal, maps as map[k:v]); "" when absent.
  std::string value(const CisJsonPath& path) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// kube-bench's JSONPath subset over a YAML/JSON text: "{.a.b}" and
// "{range .a[:]}{}{','}{end}". nullopt: the path is not supported or the text is not YAML.
std::optional<std::string> cis_jsonpath(const std::string& document, std::string_view path);

// One test item's outcome (kube-bench's testOutput).
struct CisItemOutcome {
  bool result = false;  // the item passes
  bool found = false;   // its flag or path is present
  std::string value;    // what was found
};
// A flag item against an audit command's output (flagTestItem.findValue, testItem.evaluate):
// "--flag=value", "flag: value" and a bare "--flag" (true) are found.
CisItemOutcome cis_flag_item(const CisTestItem& item, const std::string& output);
// A path item against the config file (pathTestItem): found when the value is not empty.
CisItemOutcome cis_path_item(const CisTestItem& item, const CisConfigDocument& config);
// bin_op over the items' results; a check without items fails.
bool cis_combine(CisBinOp op, const std::vector<CisItemOutcome>& outcomes);
// check.go: a passing check is PASS, a failing scored one FAIL, a failing manual one WARN.
CisStatus cis_verdict(bool passed, bool scored);

// What the stat audits print: "permissions=644" or "root:root".
std::string cis_stat_output(CisAudit audit, unsigned mode, const std::string& user, const std::string& group);

// The values of kube-bench's variables on this node.
struct CisVariables {
  std::filesystem::path kubeletconf;        // $kubeletconf
  std::filesystem::path kubeletkubeconfig;  // $kubeletkubeconfig
  std::filesystem::path kubeletcafile;      // the CA file 4.1.7 / 4.1.8 stat
  std::filesystem::path kubeletsvc;         // $kubeletsvc
};
// $kubeletconf, $kubeletkubeconfig: the kubelet's --config / --kubeconfig win over `setting`.
std::filesystem::path cis_kubelet_config(const KubeletCommandLine& cl, const std::filesystem::path& setting);
std::filesystem::path cis_kubeconfig(const KubeletCommandLine& cl, const std::filesystem::path& setting);
// The CA file of 4.1.7 / 4.1.8: the kubelet's --client-ca-file (CAFILE in the audit), else the
// config file's authentication.x509.clientCAFile, else `setting` ($kubeletcafile).
std::filesystem::path cis_client_ca_file(const KubeletCommandLine& cl, const CisConfigDocument* config,
                                         const std::filesystem::path& setting);
// $kubeletsvc: the kubelet unit file found, else kubeadm's drop-in.
std::filesystem::path cis_kubelet_service(const KubeletCommandLine& cl);
// A remediation text with $kubeletsvc, $kubeletkubeconfig, $kubeletconf, $kubeletcafile filled in.
std::string cis_remediation(const std::string& text, const CisVariables& vars);

}  // namespace kcd::kubelet
