// Structured logging: one line per event, a stable message plus key=value fields, to the
// console or to journald (with CERTD_* fields); secrets are scrubbed before any sink.
#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace kcd::log {

enum class Target { Auto, Console, Journal };

// One key=value pair of an event. Keys are lowercase snake_case ("csr", "not_after").
struct Field {
  std::string_view key;
  std::string value;

  Field(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, const std::filesystem::path& v) : key(k), value(v.string()) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  Field(std::string_view k, I v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, std::chrono::system_clock::time_point t);  // RFC 3339 UTC
  Field(std::string_view k, std::chrono::milliseconds d);              // "1.5s", "250ms"
};

// Sets up the default logger. Auto picks the journal when stderr is connected to it
// (JOURNAL_STREAM matches, as systemd documents), the console otherwise. `level` is one of
// trace, debug, info, warn, error. Safe to call again (e.g. after SIGHUP).
void init(Target target, std::string_view level);
void set_level(std::string_view level);
bool journal_active();

void event(spdlog::level::level_enum level, std::string_view message,
           std::initializer_list<Field> fields = {});
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  event(spdlog::level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  event(spdlog::level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  event(spdlog::level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  event(spdlog::level::err, m, f);
}

// "message key=value key2=\"value with spaces\"": the text form of one event.
std::string format_event(std::string_view message, std::initializer_list<Field> fields);

// Replaces bearer tokens (bootstrap-token shape [a-z0-9]{6}.[a-z0-9]{16}, and anything after
// "Bearer ") and PEM private-key blocks with placeholders. Applied to every line logged.
std::string redact(std::string_view text);

// The journald field name for an event key: "csr" -> "CERTD_CSR".
std::string journal_field_name(std::string_view key);

}  // namespace kcd::log
