// The service manager protocol: READY/STATUS/RELOADING/STOPPING and watchdog pings.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace kcd::systemd {

// All calls are no-ops when not started by systemd (NOTIFY_SOCKET unset).
class Notifier {
 public:
  Notifier();
  bool active() const { return active_; }
  void ready();
  void status(std::string_view text);
  void reloading();
  void stopping();
  void watchdog();
  // How often the loop must ping: half of WatchdogSec (nullopt when no watchdog is set).
  std::optional<std::chrono::milliseconds> watchdog_interval() const { return watchdog_interval_; }

 private:
  bool active_ = false;
  std::optional<std::chrono::milliseconds> watchdog_interval_;
};

}  // namespace kcd::systemd
