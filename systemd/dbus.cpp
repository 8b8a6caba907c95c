#include "systemd/dbus.hpp"

#include <systemd/sd-bus.h>

#include <cstring>
#include <memory>

namespace kcd::systemd {

namespace {
struct BusUnref {
  void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
struct MessageUnref {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
}  // namespace

RestartResult try_restart_unit(const std::string& unit) {
  RestartResult result;
  sd_bus* raw = nullptr;
  int r = sd_bus_open_system(&raw);
  std::unique_ptr<sd_bus, BusUnref> bus(raw);
  if (r < 0) {
    result.error = std::string("cannot connect to the system bus: ") + std::strerror(-r);
    return result;
  }
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply_raw = nullptr;
  r = sd_bus_call_method(bus.get(), "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                         "org.freedesktop.systemd1.Manager", "TryRestartUnit", &error, &reply_raw, "ss",
                         unit.c_str(), "replace");
  std::unique_ptr<sd_bus_message, MessageUnref> reply(reply_raw);
  if (r < 0) {
    result.error = error.message != nullptr ? error.message : std::strerror(-r);
    sd_bus_error_free(&error);
    return result;
  }
  const char* job = nullptr;
  if (sd_bus_message_read(reply.get(), "o", &job) >= 0 && job != nullptr) result.job = job;
  result.ok = true;
  return result;
}

}  // namespace kcd::systemd
