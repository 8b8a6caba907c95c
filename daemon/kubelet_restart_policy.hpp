// Whether kubelet-certd restarts the kubelet (after a config change, a new serving certificate,
// a rollback), decided in this one place as a pure function of kubeletRestart, the unit's state
// and, only where it matters, the kubelet's version.
#pragma once

#include "config/settings.hpp"
#include "kubelet/version.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kcd::daemon {

// Why a restart is being considered.
enum class RestartCause {
  ConfigChanged,              // kubelet-config.yaml was rewritten: the kubelet reads it only at start
  ServingCertificateChanged,  // a new kubelet-server-current.pem was installed
  RollBack,                   // our change was restored after the kubelet did not come back: bring it back
  ClusterCaChanged,  // the cluster CA in kubelet.conf or the client CA file changed: read only at start
};
std::string_view to_string(RestartCause c);

// The kubelet unit as systemd reported it just before the decision.
struct KubeletUnitSeen {
  enum class State {
    Unknown,  // systemd could not be asked (no system bus, access denied)
    Up,       // active (running), or activating
    Down,     // inactive, failed, not loaded: somebody stopped it, or it never ran
  } state = State::Unknown;
  std::string description;  // systemd's words ("inactive (dead), MainPID 0, NRestarts 0")
};

struct RestartDecision {
  enum class Action {
    None,        // leave the kubelet alone; `why` says why (logged, shown by check --fix)
    TryRestart,  // TryRestartUnit: restarts a running kubelet, never starts a stopped one
    Restart,     // RestartUnit: also starts a stopped or failed kubelet (rollback only)
  } action = Action::None;
  std::string why;
};

// The kubelet's version, asked only when the decision depends on it (it runs `kubelet
// --version`); nullopt when no kubelet was found.
using VersionProbe = std::function<std::optional<kubelet::Version>()>;

// kubeletRestart never: nothing is restarted, whatever the cause (except a rollback, which
// restores what the kubelet ran before us). A kubelet that is not running is never started.
// A config change needs a restart. A new serving certificate needs one under `always`, and
// under `auto` unless the kubelet reloads it by itself (1.31 and newer; an unknown version
// restarts: a stale serving certificate is worse than a restart).
RestartDecision decide_kubelet_restart(RestartCause cause, config::KubeletRestart mode,
                                       const KubeletUnitSeen& unit, const VersionProbe& version);

}  // namespace kcd::daemon
