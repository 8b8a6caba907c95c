#include "daemon/kubelet_restart_policy.hpp"

namespace kcd::daemon {

std::string_view to_string(RestartCause c) {
  switch (c) {
    case RestartCause::ConfigChanged:
      return "kubelet-config.yaml changed";
    case RestartCause::ServingCertificateChanged:
      return "serving certificate changed";
    case RestartCause::RollBack:
      return "rollback";
    case RestartCause::ClusterCaChanged:
      return "cluster CA changed";
  }
  return "?";
}

RestartDecision decide_kubelet_restart(RestartCause cause, config::KubeletRestart mode,
                                       const KubeletUnitSeen& unit, const VersionProbe& version) {
  using Action = RestartDecision::Action;
  // Restoring the file is only half of a rollback: the kubelet was running before our change.
  if (cause == RestartCause::RollBack)
    return {Action::Restart, "the kubelet ran before kubelet-certd's change; the change was undone"};
  if (mode == config::KubeletRestart::Never) return {Action::None, "kubeletRestart: never"};
  if (unit.state == KubeletUnitSeen::State::Down)
    return {Action::None,
            "the kubelet is not running (" + unit.description + "): not started by kubelet-certd"};
  if (cause == RestartCause::ServingCertificateChanged && mode == config::KubeletRestart::Auto) {
    const std::optional<kubelet::Version> v = version ? version() : std::nullopt;
    if (v && kubelet::reloads_serving_certificate(*v)) {
      return {Action::None, "kubelet v" + v->to_string() +
                                " reloads its serving certificate by itself (kubeletRestart: auto)"};
    }
    return {Action::TryRestart, v ? "kubelet v" + v->to_string() + " does not reload its serving certificate"
                                  : "the kubelet's version is unknown: a restart beats a stale certificate"};
  }
  return {Action::TryRestart, std::string(to_string(cause))};
}

}  // namespace kcd::daemon
