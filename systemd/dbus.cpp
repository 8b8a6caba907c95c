#include "systemd/dbus.hpp"

#include <systemd/sd-bus.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <type_traits>
#include <cstring>
#include <memory>

namespace kcd::systemd {

namespace {

// Closed without a flush: we only wait for replies, so nothing is left to send, and
// sd_bus_flush() would wait (up to sd-bus's 25 s auth timeout) for a bus that never answers.
struct BusUnref {
  void operator()(sd_bus* b) const { sd_bus_close_unref(b); }
};
struct MessageUnref {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using Bus = std::unique_ptr<sd_bus, BusUnref>;

constexpr std::uint64_t kTimeoutUsec = 5'000'000;
constexpr const char* kService = "org.freedesktop.systemd1";

Unexpected<Error> failed(std::string what) {
  return Unexpected(make_error(ErrorKind::Io, std::move(what)));
}

using Message = std::unique_ptr<sd_bus_message, MessageUnref>;

// One method call, waited for in 100 ms slices so that `stop` (SIGTERM) ends the wait at once
// instead of after the call's timeout: the kubelet worker must never hold up a stop.
Expected<Message> call(sd_bus* bus, const char* path, const char* interface, const char* member,
                       const std::function<int(sd_bus_message*)>& append, const std::atomic<bool>* stop) {
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_call(bus, &raw, kService, path, interface, member);
  Message request(raw);
  if (r >= 0) r = append(request.get());
  if (r < 0) return failed(std::string("cannot build the D-Bus call ") + member + ": " + std::strerror(-r));
  struct Pending {
    bool done = false;
    Message reply;
    std::string error;
  } pending;
  auto on_reply = [](sd_bus_message* m, void* userdata, sd_bus_error* /*ret_error*/) -> int {
    auto* p = static_cast<Pending*>(userdata);
    p->done = true;
    if (const sd_bus_error* e = sd_bus_message_get_error(m); e != nullptr) {
      p->error = e->message != nullptr ? e->message : (e->name != nullptr ? e->name : "D-Bus error");
    } else {
      p->reply.reset(sd_bus_message_ref(m));
    }
    return 0;
  };
  sd_bus_slot* slot_raw = nullptr;
  r = sd_bus_call_async(bus, &slot_raw, request.get(), on_reply, &pending, kTimeoutUsec);
  const std::unique_ptr<sd_bus_slot, decltype(&sd_bus_slot_unref)> slot(slot_raw, &sd_bus_slot_unref);
  if (r < 0) return failed(std::string("D-Bus call ") + member + ": " + std::strerror(-r));
  // Our own deadline too: sd-bus applies the call's timeout only once the connection is up,
  // and a bus that never finishes authenticating would hold us for its 25 s auth timeout.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(kTimeoutUsec);
  while (!pending.done) {
    if (stop != nullptr && stop->load()) return failed(std::string("D-Bus call ") + member + ": stopped");
    if (std::chrono::steady_clock::now() >= deadline)
      return failed(std::string("D-Bus call ") + member + ": no answer from systemd within 5 s");
    r = sd_bus_process(bus, nullptr);
    if (r < 0) return failed(std::string("D-Bus call ") + member + ": " + std::strerror(-r));
    if (r > 0) continue;
    r = sd_bus_wait(bus, 100'000);
    if (r < 0 && r != -EINTR) return failed(std::string("D-Bus call ") + member + ": " + std::strerror(-r));
  }
  if (!pending.error.empty()) return failed(pending.error);
  return std::move(pending.reply);
}

// A string or uint32 property of a unit (org.freedesktop.DBus.Properties.Get).
template <class T>
Expected<T> property(sd_bus* bus, const char* path, const char* interface, const char* name,
                     const std::atomic<bool>* stop) {
  auto reply = call(
      bus, path, "org.freedesktop.DBus.Properties", "Get",
      [&](sd_bus_message* m) { return sd_bus_message_append(m, "ss", interface, name); }, stop);
  if (!reply) return Unexpected(reply.error());
  constexpr bool kString = std::is_same_v<T, std::string>;
  int r = sd_bus_message_enter_container(reply->get(), 'v', kString ? "s" : "u");
  T value{};
  if constexpr (kString) {
    const char* text = nullptr;
    if (r >= 0) r = sd_bus_message_read(reply->get(), "s", &text);
    if (r >= 0 && text != nullptr) value = text;
  } else {
    if (r >= 0) r = sd_bus_message_read(reply->get(), "u", &value);
  }
  if (r < 0) return failed(std::string("cannot read ") + name + ": " + std::strerror(-r));
  return value;
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

Expected<std::string> try_restart_unit(const std::string& unit, const std::atomic<bool>* stop) {
  return restart_unit(unit, true, stop);
}

Expected<std::string> restart_unit(const std::string& unit, bool only_if_running,
                                   const std::atomic<bool>* stop) {
  auto opened = open_system_bus();
  if (!opened) return Unexpected(opened.error());
  Bus bus = std::move(*opened);
  auto reply = call(
      bus.get(), "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
      only_if_running ? "TryRestartUnit" : "RestartUnit",
      [&](sd_bus_message* m) { return sd_bus_message_append(m, "ss", unit.c_str(), "replace"); }, stop);
  if (!reply) return Unexpected(reply.error());
  const char* job = nullptr;
  return std::string(sd_bus_message_read(reply->get(), "o", &job) >= 0 && job != nullptr ? job : "");
}

Expected<UnitState> unit_state(const std::string& unit, const std::atomic<bool>* stop) {
  auto opened = open_system_bus();
  if (!opened) return Unexpected(opened.error());
  Bus bus = std::move(*opened);
  char* path_raw = nullptr;
  if (int r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit.c_str(), &path_raw); r < 0) {
    return failed(std::string("cannot name unit ") + unit + ": " + std::strerror(-r));
  }
  const std::unique_ptr<char, decltype(&std::free)> path(path_raw, &std::free);
  constexpr const char* kUnit = "org.freedesktop.systemd1.Unit";
  constexpr const char* kServiceIface = "org.freedesktop.systemd1.Service";
  auto why = [&unit](const Error& e) {
    return failed("cannot read the state of " + unit + ": " + e.message);
  };
  UnitState st;
  for (auto [name, out] : {std::pair{"LoadState", &st.load_state}, std::pair{"ActiveState", &st.active_state},
                           std::pair{"SubState", &st.sub_state}}) {
    auto value = property<std::string>(bus.get(), path.get(), kUnit, name, stop);
    if (!value) return why(value.error());
    *out = std::move(*value);
  }
  if (st.load_state == "loaded") {
    auto pid = property<std::uint32_t>(bus.get(), path.get(), kServiceIface, "MainPID", stop);
    if (!pid) return why(pid.error());
    st.main_pid = static_cast<pid_t>(*pid);
    auto restarts = property<std::uint32_t>(bus.get(), path.get(), kServiceIface, "NRestarts", stop);
    if (!restarts) return why(restarts.error());
    st.n_restarts = *restarts;
  }
  return st;
}

}  // namespace kcd::systemd
