#include "base/duration.hpp"

#include <cmath>
#include <limits>

namespace kcd {

namespace {
std::string bad(std::string_view text, std::string_view why) {
  return "invalid duration \"" + std::string(text) + "\": " + std::string(why) +
         " (write it like 90s, 5m, 1h or 1h30m)";
}
}  // namespace

Expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text) {
  if (text.empty()) return Unexpected(bad(text, "empty"));
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.front() == '-') return Unexpected(bad(text, "negative durations are not allowed"));
  std::size_t i = text.front() == '+' ? 1 : 0;
  if (i == text.size()) return Unexpected(bad(text, "no number"));
  long double total_ns = 0;
  while (i < text.size()) {
    // number: digits [. digits]
    std::size_t start = i;
    long double value = 0;
    bool digits = false;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + (text[i] - '0');
      ++i;
      digits = true;
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        value += scale * (text[i] - '0');
        scale /= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits)
      return Unexpected(bad(text, "expected a number at \"" + std::string(text.substr(start)) + "\""));
    std::size_t ustart = i;
    while (i < text.size() && ((text[i] >= 'a' && text[i] <= 'z'))) ++i;
    std::string_view unit = text.substr(ustart, i - ustart);
    long double ns_per = 0;
    if (unit == "ns")
      ns_per = 1;
    else if (unit == "us")
      ns_per = 1e3L;
    else if (unit == "ms")
      ns_per = 1e6L;
    else if (unit == "s")
      ns_per = 1e9L;
    else if (unit == "m")
      ns_per = 60e9L;
    else if (unit == "h")
      ns_per = 3600e9L;
    else if (unit.empty())
      return Unexpected(bad(text, "missing unit after " + std::string(text.substr(start, ustart - start))));
    else
      return Unexpected(bad(text, "unknown unit \"" + std::string(unit) + "\" (use ms, s, m or h)"));
    total_ns += value * ns_per;
    if (total_ns > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) {
      return Unexpected(bad(text, "too large"));
    }
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(total_ns / 1e6L)));
}

std::string format_duration(std::chrono::milliseconds d) {
  using namespace std::chrono;
  if (d.count() == 0) return "0s";
  std::string out;
  if (d.count() < 0) {
    out = "-";
    d = -d;
  }
  if (d < 1s) return out + std::to_string(d.count()) + "ms";
  auto h = duration_cast<hours>(d);
  d -= h;
  auto m = duration_cast<minutes>(d);
  d -= m;
  auto s = duration_cast<seconds>(d);
  d -= s;
  if (h.count() > 0) out += std::to_string(h.count()) + "h";
  if (m.count() > 0) out += std::to_string(m.count()) + "m";
  if (s.count() > 0 || d.count() > 0) {
    out += std::to_string(s.count());
    if (d.count() > 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(d.count()));
      std::string frac(buf);
      while (frac.back() == '0') frac.pop_back();
      out += frac;
    }
    out += "s";
  }
  return out;
}

}  // namespace kcd
