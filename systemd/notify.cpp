#include "systemd/notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <string>

namespace kcd::systemd {

Notifier::Notifier() {
  active_ = std::getenv("NOTIFY_SOCKET") != nullptr;
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::milliseconds(usec / 2000);
  }
}

void Notifier::ready() {
  if (active_) sd_notify(0, "READY=1");
}

void Notifier::status(std::string_view text) {
  if (!active_) return;
  std::string msg = "STATUS=";
  msg += text;
  sd_notify(0, msg.c_str());
}

void Notifier::reloading() {
  if (active_) sd_notify(0, "RELOADING=1");
}

void Notifier::stopping() {
  if (active_) sd_notify(0, "STOPPING=1");
}

void Notifier::watchdog() {
  if (active_ && watchdog_interval_) sd_notify(0, "WATCHDOG=1");
}

}  // namespace kcd::systemd
