#include "base/number.hpp"

#include <string>

namespace kcd {

namespace {

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Digits to a value, false on overflow of int64.
bool accumulate(std::string_view digits, std::int64_t& value) {
  for (char c : digits) {
    if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, c - '0', &value))
      return false;
  }
  return true;
}

// Why `text` is not a plain decimal number, for the common surprises; empty when it is none of them.
std::string surprise(std::string_view text) {
  std::string_view t = text;
  if (!t.empty() && (t.front() == '-' || t.front() == '+')) t.remove_prefix(1);
  if (t.size() > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) return " is hexadecimal";
  if (t.size() > 1 && t[0] == '0' && (t[1] == 'o' || t[1] == 'b')) return " is not decimal";
  if (t.size() > 1 && t[0] == '0' && is_digit(t[1]))
    return " has a leading zero (YAML 1.1 reads it as octal)";
  return {};
}

}  // namespace

Expected<std::int64_t> parse_whole_number(std::string_view text, std::int64_t min, std::int64_t max) {
  const std::string range = "use a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  if (auto why = surprise(text); !why.empty())
    return Unexpected(config_error({}, quoted(text) + why + "; " + range));
  std::string_view digits = text;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  bool all_digits = !digits.empty();
  for (char c : digits) all_digits = all_digits && is_digit(c);
  if (!all_digits || (negative && digits.front() == '0'))
    return Unexpected(config_error({}, quoted(text) + " is not an integer; " + range));
  std::int64_t value = 0;
  if (!accumulate(digits, value))
    return Unexpected(config_error({}, quoted(text) + " is out of range; " + range));
  if (negative) value = -value;
  if (value < min || value > max)
    return Unexpected(config_error({}, std::to_string(value) + " is out of range; " + range));
  return value;
}

std::string format_decimal(std::int64_t scaled, int decimals) {
  std::int64_t unit = 1;
  for (int i = 0; i < decimals; ++i) unit *= 10;
  std::string out = scaled < 0 ? "-" : "";
  const std::uint64_t magnitude = scaled < 0 ? 0 - static_cast<std::uint64_t>(scaled) : scaled;
  out += std::to_string(magnitude / unit);
  std::string fraction = std::to_string(magnitude % unit);
  if (magnitude % unit != 0) {
    fraction.insert(0, static_cast<std::size_t>(decimals) - fraction.size(), '0');
    while (fraction.back() == '0') fraction.pop_back();
    out += "." + fraction;
  }
  return out;
}

Expected<std::int64_t> parse_decimal(std::string_view text, int decimals, std::int64_t min_scaled,
                                     std::int64_t max_scaled) {
  const std::string range = "use a number from " + format_decimal(min_scaled, decimals) + " to " +
                            format_decimal(max_scaled, decimals) + " with at most " +
                            std::to_string(decimals) + " decimals";
  if (auto why = surprise(text); !why.empty())
    return Unexpected(config_error({}, quoted(text) + why + "; " + range));
  std::string_view t = text;
  const bool negative = !t.empty() && t.front() == '-';
  if (negative) t.remove_prefix(1);
  const auto dot = t.find('.');
  const std::string_view whole = t.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? std::string_view() : t.substr(dot + 1);
  bool ok = !whole.empty() && (dot == std::string_view::npos || !fraction.empty());
  for (char c : whole) ok = ok && is_digit(c);
  for (char c : fraction) ok = ok && is_digit(c);
  if (!ok) return Unexpected(config_error({}, quoted(text) + " is not a number; " + range));
  if (fraction.size() > static_cast<std::size_t>(decimals))
    return Unexpected(config_error(
        {}, quoted(text) + " has more than " + std::to_string(decimals) + " decimals; " + range));
  std::int64_t value = 0;
  std::string padded(fraction);
  padded.append(static_cast<std::size_t>(decimals) - fraction.size(), '0');
  if (!accumulate(whole, value) || !accumulate(padded, value))
    return Unexpected(config_error({}, quoted(text) + " is out of range; " + range));
  if (negative) value = -value;
  if (value < min_scaled || value > max_scaled)
    return Unexpected(config_error({}, quoted(text) + " is out of range; " + range));
  return value;
}

}  // namespace kcd
