#include "systemd/log.hpp"

#include "base/outside_text.hpp"
#include "base/rfc3339.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <vector>

namespace kcd::log {
namespace {

// The fields of the event being logged on this thread, for the journal sink.
thread_local const std::initializer_list<Field>* t_fields = nullptr;

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

void append_value(std::string& out, std::string_view v) {
  if (!needs_quotes(v)) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char hex[8];
          std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
          out += hex;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

int syslog_priority(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return 7;
    case spdlog::level::info:
      return 6;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::err:
      return 3;
    case spdlog::level::critical:
      return 2;
    default:
      return 6;
  }
}

// Sends each event to journald with PRIORITY, SYSLOG_IDENTIFIER and one CERTD_<KEY> field
// per event field, so `journalctl -u kubelet-certd CERTD_CERT=serving` works.
class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::vector<std::string> parts;
    parts.reserve(4 + (t_fields != nullptr ? t_fields->size() : 0));
    parts.push_back("MESSAGE=" + std::string(msg.payload.data(), msg.payload.size()));
    parts.push_back("PRIORITY=" + std::to_string(syslog_priority(msg.level)));
    parts.push_back("SYSLOG_IDENTIFIER=kubelet-certd");
    if (t_fields != nullptr)
      for (const Field& f : *t_fields) parts.push_back(journal_field_name(f.key) + "=" + redact(f.value));
    std::vector<iovec> iov;
    iov.reserve(parts.size());
    for (auto& p : parts) iov.push_back(iovec{p.data(), p.size()});
    sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
  }
  void flush_() override {}
};

bool stderr_is_journal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (js == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (fstat(2, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

bool g_journal = false;

}  // namespace

Field::Field(std::string_view k, std::chrono::system_clock::time_point t) : key(k), value(to_rfc3339(t)) {}

Field::Field(std::string_view k, std::chrono::milliseconds d) : key(k) {
  auto ms = d.count();
  if (ms % 1000 == 0) {
    value = std::to_string(ms / 1000) + "s";
  } else if (ms < 1000) {
    value = std::to_string(ms) + "ms";
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3fs", static_cast<double>(ms) / 1000.0);
    value = buf;
  }
}

std::string journal_field_name(std::string_view key) {
  std::string out = "CERTD_";
  for (char c : key) {
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  }
  return out;
}

std::string format_event(std::string_view message, std::initializer_list<Field> fields) {
  std::string out(message);
  for (const Field& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    append_value(out, f.value);
  }
  return out;
}

std::string redact(std::string_view text) {
  return kcd::redact_secrets(text);
}

void set_level(std::string_view level) {
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
}

void init(Target target, std::string_view level) {
  bool journal = target == Target::Journal || (target == Target::Auto && stderr_is_journal());
  std::shared_ptr<spdlog::logger> logger;
  if (journal) {
    logger = std::make_shared<spdlog::logger>("kubelet-certd", std::make_shared<JournalSink>());
    logger->set_pattern("%v");  // the journal keeps its own timestamps and priorities
  } else {
    logger =
        std::make_shared<spdlog::logger>("kubelet-certd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  g_journal = journal;
  spdlog::set_default_logger(logger);
  set_level(level);
  spdlog::flush_on(spdlog::level::trace);
}

bool journal_active() {
  return g_journal;
}

void event(spdlog::level::level_enum level, std::string_view message, std::initializer_list<Field> fields) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  t_fields = &fields;
  logger->log(level, "{}", redact(format_event(message, fields)));
  t_fields = nullptr;
}

}  // namespace kcd::log
