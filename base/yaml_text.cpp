#include "base/yaml_text.hpp"

#include <yaml-cpp/emitter.h>
#include <yaml-cpp/emittermanip.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace kcd {

bool is_plain_yaml_safe(std::string_view value) {
  if (value.empty() || value.back() == ':') return false;
  const char first = value.front();
  if (first != '/' && !std::isalpha(static_cast<unsigned char>(first))) return false;
  for (char c : value) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' ||
                    c == ':' || c == '+' || c == '=' || c == '-';
    if (!ok) return false;
  }
  std::string lower(value);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::array<std::string_view, 11> kWords = {"y",    "yes",   "n",    "no",  "on", "off",
                                                              "true", "false", "null", "nan", "inf"};
  return std::find(kWords.begin(), kWords.end(), lower) == kWords.end();
}

std::string yaml_scalar(std::string_view value) {
  if (is_plain_yaml_safe(value)) return std::string(value);
  YAML::Emitter out;
  out.SetOutputCharset(YAML::EscapeNonAscii);
  out << YAML::DoubleQuoted << std::string(value);
  return out.c_str();
}

}  // namespace kcd
