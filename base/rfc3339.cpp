#include "base/rfc3339.hpp"

#include <cstdio>
#include <ctime>

namespace kcd {

std::string to_rfc3339(SysTime t, bool with_millis) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = ms / 1000;
  auto frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[48];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (with_millis) std::snprintf(buf + n, sizeof buf - n, ".%03d", static_cast<int>(frac));
  return std::string(buf) + "Z";
}

std::optional<SysTime> parse_rfc3339(std::string_view text) {
  std::string s(text);
  std::tm tm{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  long long nanos = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (*rest - '0');
        ++digits;
      }
      ++rest;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 9; ++digits) nanos *= 10;
  }
  long offset_seconds = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    offset_seconds = (hh * 3600L + mm * 60L) * (*rest == '-' ? -1 : 1);
    rest += 6;
  } else {
    return std::nullopt;
  }
  if (*rest != '\0') return std::nullopt;
  std::time_t secs = timegm(&tm) - offset_seconds;
  return std::chrono::system_clock::from_time_t(secs) +
         std::chrono::duration_cast<SysTime::duration>(std::chrono::nanoseconds(nanos));
}

}  // namespace kcd
