#include "kubelet/key_rules.hpp"

#include <algorithm>

namespace kcd::kubelet {

namespace {

// Fields present in KubeletConfiguration v1beta1 long before 1.24 (the oldest kubelet we
// support) and never gated: staging/src/k8s.io/kubelet/config/v1beta1/types.go.
constexpr Version kOld{1, 10, 0};
constexpr const char* kTypes = "k8s.io/kubelet/config/v1beta1/types.go and validation.go (1.24-1.36)";

bool same_minor_or_newer(const Version& v, const Version& than) {
  return v.major > than.major || (v.major == than.major && v.minor >= than.minor);
}

}  // namespace

const std::vector<KeyRule>& key_rules() {
  static const std::vector<KeyRule> rules = {
      {"tlsCertFile", "4.2.9", kOld, std::nullopt, kTypes},
      {"tlsPrivateKeyFile", "4.2.9", kOld, std::nullopt, kTypes},
      {"authentication.x509.clientCAFile", "4.2.3", kOld, std::nullopt, kTypes},
      {"authentication.anonymous.enabled", "4.2.1", kOld, std::nullopt, kTypes},
      {"authentication.webhook.enabled", "4.2.2", kOld, std::nullopt, kTypes},
      {"authorization.mode", "4.2.2", kOld, std::nullopt, kTypes},
      {"readOnlyPort", "4.2.4", kOld, std::nullopt, kTypes},
      {"tlsCipherSuites", "4.2.12", kOld, std::nullopt,
       "types.go; names checked by k8s.io/component-base/cli/flag/ciphersuites_flag.go (the two legacy "
       "CHACHA20 names mapped since 1.23)"},
      {"makeIPTablesUtilChains", "4.2.6", kOld, std::nullopt, kTypes},
      {"eventRecordQPS", "4.2.8", kOld, std::nullopt, kTypes},
      {"streamingConnectionIdleTimeout", "4.2.5", kOld, std::nullopt, kTypes},
      {"podPidsLimit", "4.2.13", kOld, std::nullopt,
       "types.go; SupportPodPidsLimit GA (locked on) since 1.20"},
      // Verified on a real v1.24 kubelet: the loader and validation accept the key, then
      // start-up stops with "the SeccompDefault feature gate must be enabled in order to use
      // the SeccompDefault configuration" (cmd/kubelet/app/server.go).
      {"seccompDefault", "4.2.14", Version{1, 22, 0},
       GateRule{"SeccompDefault", Version{1, 25, 0}, Version{1, 27, 0}},
       "types.go (field since 1.22); pkg/features/kube_features.go: SeccompDefault alpha 1.22-1.24, beta "
       "(on) 1.25-1.26, "
       "GA 1.27; cmd/kubelet/app/server.go refuses the field without the gate"},
  };
  return rules;
}

const KeyRule* find_key_rule(std::string_view key) {
  const auto& rules = key_rules();
  auto it = std::find_if(rules.begin(), rules.end(), [&](const KeyRule& r) { return r.key == key; });
  return it == rules.end() ? nullptr : &*it;
}

FeatureGates parse_feature_gates_flag(std::string_view value) {
  FeatureGates gates;
  std::size_t start = 0;
  while (start <= value.size()) {
    const auto end = std::min(value.find(',', start), value.size());
    const std::string_view item = value.substr(start, end - start);
    const auto eq = item.find('=');
    if (eq != std::string_view::npos) {
      std::string name(item.substr(0, eq));
      std::string v(item.substr(eq + 1));
      name.erase(0, name.find_first_not_of(' '));
      name.erase(name.find_last_not_of(' ') + 1);
      v.erase(0, v.find_first_not_of(' '));
      v.erase(v.find_last_not_of(' ') + 1);
      for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!name.empty() && (v == "true" || v == "false")) gates[name] = v == "true";
    }
    start = end + 1;
  }
  return gates;
}

std::optional<std::string> refusal(const KeyRule& rule, const std::optional<Version>& version,
                                   const FeatureGates& gates) {
  // Unknown kubelet: only what every supported version accepts.
  const Version v = version.value_or(kOldestSupported);
  const std::string on =
      version ? "kubelet " + v.minor_string() : "kubelet 1.24 (no kubelet found; the oldest supported)";
  if (!same_minor_or_newer(v, rule.since)) {
    return rule.key + " is not known to " + on + " (it needs kubelet " + rule.since.minor_string() +
           " or newer)";
  }
  if (!rule.gate) return std::nullopt;
  const GateRule& g = *rule.gate;
  const auto set = gates.find(g.name);
  if (same_minor_or_newer(v, g.locked_from)) {
    // GA: the gate is locked on; an explicit false is the operator's (and already fatal).
    return std::nullopt;
  }
  if (same_minor_or_newer(v, g.default_on_from)) {
    if (set != gates.end() && !set->second)
      return rule.key + " needs the " + g.name + " feature gate, which is turned off";
    return std::nullopt;
  }
  if (set != gates.end() && set->second) return std::nullopt;
  return rule.key + " needs the " + g.name + " feature gate on " + on;
}

}  // namespace kcd::kubelet
