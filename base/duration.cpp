#include "base/duration.hpp"

#include <cstdint>
#include <cstdio>
#include <numeric>

namespace kcd {

namespace {

Error bad(std::string_view text, std::string_view why) {
  return config_error({}, "invalid duration \"" + std::string(text) + "\": " + std::string(why) +
                              " (write it like 90s, 5m, 1h or 1h30m)");
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

Expected<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return Unexpected(bad(text, "empty"));
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.front() == '-') return Unexpected(bad(text, "negative durations are not allowed"));
  std::size_t i = text.front() == '+' ? 1 : 0;
  if (i == text.size()) return Unexpected(bad(text, "no number"));
  // Integer nanoseconds throughout: nothing is rounded on the way.
  std::int64_t total_ns = 0;
  const auto too_large = [&] { return Unexpected(bad(text, "too large")); };
  while (i < text.size()) {
    const std::size_t start = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    const std::string_view whole = text.substr(start, i - start);
    std::string_view fraction;
    if (i < text.size() && text[i] == '.') {
      const std::size_t fstart = ++i;
      while (i < text.size() && is_digit(text[i])) ++i;
      fraction = text.substr(fstart, i - fstart);
    }
    if (whole.empty() && fraction.empty())
      return Unexpected(bad(text, "expected a number at \"" + std::string(text.substr(start)) + "\""));
    const std::size_t ustart = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    const std::string_view unit = text.substr(ustart, i - ustart);
    std::int64_t ns_per = 0;
    if (unit == "ns")
      ns_per = 1;
    else if (unit == "us")
      ns_per = 1'000;
    else if (unit == "ms")
      ns_per = 1'000'000;
    else if (unit == "s")
      ns_per = 1'000'000'000;
    else if (unit == "m")
      ns_per = 60'000'000'000;
    else if (unit == "h")
      ns_per = 3'600'000'000'000;
    else if (unit.empty())
      return Unexpected(bad(text, "missing unit after " + std::string(text.substr(start, ustart - start))));
    else
      return Unexpected(bad(text, "unknown unit \"" + std::string(unit) + "\" (use ms, s, m or h)"));
    std::int64_t value = 0;
    for (char c : whole) {
      if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, c - '0', &value))
        return too_large();
    }
    if (__builtin_mul_overflow(value, ns_per, &value)) return too_large();
    // The fraction: digits / 10^k of the unit, which must come out as whole nanoseconds.
    while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
    if (fraction.size() > 12) return Unexpected(bad(text, "finer than a nanosecond"));
    std::int64_t digits = 0, scale = 1;
    for (char c : fraction) {
      digits = digits * 10 + (c - '0');
      scale *= 10;
    }
    std::int64_t part = 0;
    if (ns_per % scale == 0) {
      part = digits * (ns_per / scale);
    } else {
      const std::int64_t g = std::gcd(ns_per, scale);
      if ((digits % (scale / g)) != 0) return Unexpected(bad(text, "finer than a nanosecond"));
      part = digits / (scale / g) * (ns_per / g);
    }
    if (__builtin_add_overflow(value, part, &value) || __builtin_add_overflow(total_ns, value, &total_ns))
      return too_large();
  }
  if (total_ns % 1'000'000 != 0) return Unexpected(bad(text, "finer than a millisecond"));
  return std::chrono::milliseconds(total_ns / 1'000'000);
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
