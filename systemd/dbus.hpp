// Asks systemd (over D-Bus, sd-bus) to restart a unit: how the kubelet is told to pick up a
// new serving certificate when it cannot reload it by itself.
#pragma once

#include <string>

namespace kcd::systemd {

struct RestartResult {
  bool ok = false;
  std::string job;     // the job object path systemd returned
  std::string error;   // "Access denied", "Unit kubelet.service not loaded", ...
};

// org.freedesktop.systemd1.Manager.TryRestartUnit(unit, "replace") on the system bus: restarts
// the unit if it is running, does nothing if it is not. Blocking (sd-bus), a few ms.
RestartResult try_restart_unit(const std::string& unit);

}  // namespace kcd::systemd
