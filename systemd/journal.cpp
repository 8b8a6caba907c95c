#include "systemd/journal.hpp"

#include <systemd/sd-journal.h>

#include <algorithm>
#include <cstdio>
#include <memory>

namespace kcd::systemd {

namespace {

struct JournalClose {
  void operator()(sd_journal* j) const { sd_journal_close(j); }
};

std::string printable(const char* data, std::size_t size) {
  std::string out;
  for (std::size_t i = 0; i < size && out.size() < 400; ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> unit_journal_tail(const std::string& unit, int count) {
  std::vector<std::string> lines;
  sd_journal* raw = nullptr;
  if (sd_journal_open(&raw, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM) < 0) return lines;
  std::unique_ptr<sd_journal, JournalClose> j(raw);
  const std::string match = "_SYSTEMD_UNIT=" + unit;
  if (sd_journal_add_match(j.get(), match.data(), match.size()) < 0) return lines;
  if (sd_journal_seek_tail(j.get()) < 0) return lines;
  for (int i = 0; i < count && sd_journal_previous(j.get()) > 0; ++i) {
    const void* data = nullptr;
    std::size_t size = 0;
    if (sd_journal_get_data(j.get(), "MESSAGE", &data, &size) < 0) continue;
    constexpr std::size_t kPrefix = sizeof("MESSAGE=") - 1;
    if (size < kPrefix) continue;
    lines.push_back(printable(static_cast<const char*>(data) + kPrefix, size - kPrefix));
  }
  std::reverse(lines.begin(), lines.end());
  return lines;
}

}  // namespace kcd::systemd
