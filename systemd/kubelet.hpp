// Telling the kubelet about a new serving certificate: which kubelets reload it by themselves,
// and restarting the ones that do not.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace kcd::systemd {

using Version = std::pair<int, int>;  // major, minor

// "Kubernetes v1.30.2" -> {1, 30}.
std::optional<Version> parse_kubelet_version(std::string_view text);

// Runs `kubelet --version` (the first kubelet on /usr/bin, /usr/local/bin, /opt/bin); nullopt
// when there is none or it does not answer like a kubelet.
std::optional<Version> installed_kubelet_version();

// kubeletRestart: always, never, or auto = restart unless the kubelet is 1.31 or newer (those
// reload tlsCertFile/tlsPrivateKeyFile by themselves: ReloadKubeletServerCertificateFile).
// An unknown version under auto restarts: a stale serving certificate is worse than a restart.
bool kubelet_restart_needed(std::string_view mode, std::optional<Version> version);

}  // namespace kcd::systemd
