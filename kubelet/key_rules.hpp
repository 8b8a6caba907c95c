// Which KubeletConfiguration keys kubelet-certd may write for which kubelet: one table of
// every key the patch writes, from which version the kubelet accepts it, and which feature
// gate it needs in which version range. Pure: the version and the gates are passed in.
#pragma once

#include "kubelet/version.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::kubelet {

// The feature gate a key depends on, across its stages.
struct GateRule {
  std::string name;         // "SeccompDefault"
  Version default_on_from;  // beta, on by default, from this minor version
  Version locked_from;      // GA, locked on (an explicit false stops the kubelet) from this version
};

struct KeyRule {
  std::string key;  // dotted path: "seccompDefault", "authentication.anonymous.enabled"
  std::string cis;  // the CIS check it serves ("4.2.14"), or "" for certificate wiring
  Version since;    // the first kubelet whose KubeletConfiguration has the field
  std::optional<GateRule> gate;
  std::string evidence;  // where upstream says so
};

// Every key the patch may write, in one place. A key missing here is never written.
const std::vector<KeyRule>& key_rules();
const KeyRule* find_key_rule(std::string_view key);

// Feature gates as the kubelet will see them: the config file's featureGates, overridden by
// --feature-gates on its command line.
using FeatureGates = std::map<std::string, bool>;
// "A=true,B=false" -> {A: true, B: false}; malformed items are ignored (the kubelet refuses them
// itself, whatever we write).
FeatureGates parse_feature_gates_flag(std::string_view value);

// Why this kubelet would refuse `rule.key` (nullopt: it accepts it). With no version known,
// the answer holds for every supported version (1.24 and newer), e.g.
// "seccompDefault needs the SeccompDefault feature gate on kubelet 1.24".
std::optional<std::string> refusal(const KeyRule& rule, const std::optional<Version>& version,
                                   const FeatureGates& gates);

}  // namespace kcd::kubelet
