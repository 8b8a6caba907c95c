#include "kubelet/version.hpp"

#include <cctype>
#include <charconv>

namespace kcd::kubelet {

std::string Version::to_string() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::string Version::minor_string() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

namespace {

// Reads a decimal number of at most 4 digits at `pos`; advances `pos`.
std::optional<int> number(std::string_view s, std::size_t& pos) {
  const std::size_t start = pos;
  while (pos < s.size() && pos - start < 5 && std::isdigit(static_cast<unsigned char>(s[pos])) != 0) ++pos;
  if (pos == start || pos - start > 4) return std::nullopt;
  int v = 0;
  std::from_chars(s.data() + start, s.data() + pos, v);
  return v;
}

}  // namespace

std::optional<Version> parse_version(std::string_view text) {
  // The first "v1.N" (or bare "1.N" at a word start) in the text.
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::size_t pos = i;
    if (text[pos] == 'v') ++pos;
    if (pos >= text.size() || std::isdigit(static_cast<unsigned char>(text[pos])) == 0) continue;
    if (i > 0 && (std::isalnum(static_cast<unsigned char>(text[i - 1])) != 0 || text[i - 1] == '.')) continue;
    auto major = number(text, pos);
    if (!major || pos >= text.size() || text[pos] != '.') continue;
    ++pos;
    auto minor = number(text, pos);
    if (!minor) continue;
    Version v{*major, *minor, 0};
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      if (auto patch = number(text, pos)) v.patch = *patch;
    }
    if (v.major != 1) return std::nullopt;  // there is no other Kubernetes major version
    return v;
  }
  return std::nullopt;
}

bool reloads_serving_certificate(const Version& version) {
  return version >= Version{1, 31, 0};
}

}  // namespace kcd::kubelet
