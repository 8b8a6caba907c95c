// kube-bench's check definitions (kubelet/kube-bench/cis-1.12-node.yaml, compiled in) parsed
// once into typed definitions: what each check's audit looks at, its test items (flag, config
// path, set, compare), how they combine and the remediation text. Only the shapes kube-bench's
// kubelet checks use are accepted; anything else is an error naming the check, the field and
// its line, so a newer definitions file cannot be half understood.
#pragma once

#include "base/expected.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::kubelet {

// kube-bench's compare ops (check/test.go compareOp).
enum class CisCompareOp { Eq, NotEq, Gt, Gte, Lt, Lte, Has, NotHave, Regex, ValidElements, Bitmask };
std::string_view to_string(CisCompareOp op);
std::optional<CisCompareOp> parse_cis_compare_op(std::string_view op);

struct CisCompare {
  CisCompareOp op = CisCompareOp::Eq;
  std::string value;
};

// The JSONPath subset kube-bench's kubelet checks use: "{.a.b}" (one value) and
// "{range .a[:]}{}{','}{end}" (each element of a list, each followed by the separator).
struct CisJsonPath {
  std::string text;               // as written in the definitions, for evidence
  std::vector<std::string> keys;  // "a.b" -> {"a", "b"}
  bool range = false;
  std::string separator;  // with range
};
// nullopt: a path kube-bench would accept but this subset does not.
std::optional<CisJsonPath> parse_cis_jsonpath(std::string_view path);

// One test item. kube-bench looks for `flag` in the audit command's output (the kubelet's
// command line, or what stat printed) and, when the check has an audit_config, for `path` in
// the config file.
struct CisTestItem {
  std::string flag;
  std::optional<CisJsonPath> path;
  bool set = true;  // kube-bench: `set` defaults to true
  std::optional<CisCompare> compare;
};

enum class CisBinOp { And, Or };  // kube-bench: no bin_op means and

// What a check's audit command looks at, as kubelet-certd reads the same facts.
enum class CisAudit {
  FilePermissions,  // `stat -c permissions=%a <file>`
  FileOwnership,    // `stat -c %U:%G <file>`
  KubeletCommand,   // `ps -fC $kubeletbin` (with audit_config: `cat $kubeletconf` as well)
};
// The file a stat audit names.
enum class CisFileRole {
  None,        // a file kubelet-certd does not look at ($kubeletsvc, $proxykubeconfig)
  Kubeconfig,  // $kubeletkubeconfig
  ClientCa,    // $kubeletcafile, or the running kubelet's --client-ca-file (CAFILE)
  Config,      // $kubeletconf
};

struct CisCheckDefinition {
  std::string id, text;
  bool scored = false;
  CisAudit audit = CisAudit::KubeletCommand;
  CisFileRole file = CisFileRole::None;  // for the stat audits
  bool audit_config = false;             // the config file is read too (path items)
  CisBinOp bin_op = CisBinOp::And;
  std::vector<CisTestItem> items;
  std::string remediation;  // with kube-bench's $variables
};

struct CisDefinitions {
  std::string source;  // where they come from, for messages
  std::vector<CisCheckDefinition> checks;
};

// Parses a kube-bench node.yaml. Errors (ErrorKind::Corrupt) name `source`, the line and
// column, the check and the field.
Expected<CisDefinitions> parse_cis_definitions(std::string_view yaml,
                                               std::string_view source = "CIS definitions");

// The compiled-in definitions (kube-bench cis-1.12), parsed once. They are tested, so a
// failure to parse them is a programming error (std::logic_error).
const CisDefinitions& builtin_cis_definitions();

}  // namespace kcd::kubelet
