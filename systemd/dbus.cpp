#include "systemd/dbus.hpp"

#include <systemd/sd-bus.h>

#include <cstdlib>
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
using Bus = std::unique_ptr<sd_bus, BusUnref>;

constexpr std::uint64_t kTimeoutUsec = 5'000'000;
constexpr const char* kService = "org.freedesktop.systemd1";

std::string bus_error(const sd_bus_error& e, int r) {
  return e.message != nullptr ? std::string(e.message) : std::string(std::strerror(-r));
}

Unexpected<Error> failed(std::string what) {
  return Unexpected(make_error(ErrorKind::Io, std::move(what)));
}

Expected<Bus> open_system_bus() {
  sd_bus* raw = nullptr;
  const int r = sd_bus_open_system(&raw);
  Bus bus(raw);
  if (r < 0) return failed(std::string("cannot connect to the system bus: ") + std::strerror(-r));
  sd_bus_set_method_call_timeout(bus.get(), kTimeoutUsec);
  return bus;
}

}  // namespace

std::string UnitState::describe() const {
  return active_state + " (" + sub_state + "), MainPID " + std::to_string(main_pid) + ", NRestarts " +
         std::to_string(n_restarts);
}

Expected<std::string> try_restart_unit(const std::string& unit) {
  return restart_unit(unit, true);
}

Expected<std::string> restart_unit(const std::string& unit, bool only_if_running) {
  auto opened = open_system_bus();
  if (!opened) return Unexpected(opened.error());
  Bus bus = std::move(*opened);
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply_raw = nullptr;
  const int r = sd_bus_call_method(
      bus.get(), kService, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
      only_if_running ? "TryRestartUnit" : "RestartUnit", &error, &reply_raw, "ss", unit.c_str(), "replace");
  std::unique_ptr<sd_bus_message, MessageUnref> reply(reply_raw);
  if (r < 0) {
    std::string why = bus_error(error, r);
    sd_bus_error_free(&error);
    return failed(std::move(why));
  }
  const char* job = nullptr;
  return std::string(sd_bus_message_read(reply.get(), "o", &job) >= 0 && job != nullptr ? job : "");
}

Expected<UnitState> unit_state(const std::string& unit) {
  auto opened = open_system_bus();
  if (!opened) return Unexpected(opened.error());
  Bus bus = std::move(*opened);
  char* path_raw = nullptr;
  if (int r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit.c_str(), &path_raw); r < 0) {
    return failed(std::string("cannot name unit ") + unit + ": " + std::strerror(-r));
  }
  const std::unique_ptr<char, decltype(&std::free)> path(path_raw, &std::free);
  UnitState st;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  auto get_string = [&](const char* iface, const char* name, std::string& out) {
    char* value = nullptr;
    const int r = sd_bus_get_property_string(bus.get(), kService, path.get(), iface, name, &error, &value);
    if (r < 0) return r;
    out = value;
    std::free(value);
    return 0;
  };
  constexpr const char* kUnit = "org.freedesktop.systemd1.Unit";
  constexpr const char* kServiceIface = "org.freedesktop.systemd1.Service";
  int r = get_string(kUnit, "LoadState", st.load_state);
  if (r >= 0) r = get_string(kUnit, "ActiveState", st.active_state);
  if (r >= 0) r = get_string(kUnit, "SubState", st.sub_state);
  std::uint32_t pid = 0;
  if (r >= 0 && st.load_state == "loaded") {
    r = sd_bus_get_property_trivial(bus.get(), kService, path.get(), kServiceIface, "MainPID", &error, 'u',
                                    &pid);
    if (r >= 0) {
      r = sd_bus_get_property_trivial(bus.get(), kService, path.get(), kServiceIface, "NRestarts", &error,
                                      'u', &st.n_restarts);
    }
  }
  if (r < 0) {
    std::string why = "cannot read the state of " + unit + ": " + bus_error(error, r);
    sd_bus_error_free(&error);
    return failed(std::move(why));
  }
  st.main_pid = static_cast<pid_t>(pid);
  return st;
}

}  // namespace kcd::systemd
