// The kubelet's version: parsed from `kubelet --version`, compared by minor release, and what
// it means for reloading the serving certificate.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace kcd::kubelet {

struct Version {
  int major = 0;
  int minor = 0;
  int patch = 0;
  auto operator<=>(const Version&) const = default;
  bool operator==(const Version&) const = default;
  std::string to_string() const;     // "1.24.17"
  std::string minor_string() const;  // "1.24"
};

// The oldest kubelet kubelet-certd supports: what is written when the version is unknown.
inline constexpr Version kOldestSupported{1, 24, 0};

// "Kubernetes v1.30.2" (or "v1.30.2-eks-abc", "1.30") -> {1, 30, 2}. Anything else: nullopt.
std::optional<Version> parse_version(std::string_view text);

// Does this kubelet pick up a new serving certificate by itself? 1.31 and newer do
// (ReloadKubeletServerCertificateFile, on by default, re-reads tlsCertFile). Whether the kubelet
// is restarted is decided in daemon/kubelet_restart_policy, from this and kubeletRestart.
bool reloads_serving_certificate(const Version& version);

}  // namespace kcd::kubelet
