// Talks to systemd over D-Bus (sd-bus): restarts a unit, and reads the state of one. How the
// kubelet is restarted after a change, and how we see whether it came back.
#pragma once

#include "base/expected.hpp"

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace kcd::systemd {

// org.freedesktop.systemd1.Manager.TryRestartUnit(unit, "replace") on the system bus: restarts
// the unit if it is running, does nothing if it is not. Blocking (sd-bus, 5 s at most). The job
// object path systemd returned, or an Io error with systemd's text ("Access denied", "Unit
// kubelet.service not loaded", no system bus). `stop` turning true (SIGTERM) ends the wait
// within 100 ms, as an error.
Expected<std::string> try_restart_unit(const std::string& unit, const std::atomic<bool>* stop = nullptr);
// RestartUnit when !only_if_running: also starts a stopped or failed unit (used only to bring
// back a kubelet that a change of ours stopped).
Expected<std::string> restart_unit(const std::string& unit, bool only_if_running,
                                   const std::atomic<bool>* stop = nullptr);

struct UnitState {
  std::string load_state;    // "loaded", "not-found", ...
  std::string active_state;  // "active", "activating", "failed", "inactive", ...
  std::string sub_state;     // "running", "auto-restart", "dead", ...
  pid_t main_pid = 0;
  std::uint32_t n_restarts = 0;
  bool running() const { return active_state == "active" && sub_state == "running"; }
  std::string describe() const;  // "active (running), MainPID 812, NRestarts 0"
};

// The unit's ActiveState, SubState, MainPID and NRestarts; an Io error when systemd cannot be
// asked (no system bus, access denied). Blocking, 5 s at most per property; `stop` as above.
Expected<UnitState> unit_state(const std::string& unit, const std::atomic<bool>* stop = nullptr);

}  // namespace kcd::systemd
