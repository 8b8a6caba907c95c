// What the fuzz targets share: splitting one input into parts and failing loudly when an oracle
// does not hold (libFuzzer then saves the input as a reproducer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits at every "\n%%\n" (seeds are written that way, so a part can hold any text); at most
// `max_parts` parts, the last one takes the rest.
inline std::vector<std::string_view> split_parts(std::string_view text, std::size_t max_parts) {
  static constexpr std::string_view kSep = "\n%%\n";
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const std::size_t at = text.find(kSep);
    if (at == std::string_view::npos) break;
    parts.push_back(text.substr(0, at));
    text.remove_prefix(at + kSep.size());
  }
  parts.push_back(text);
  while (parts.size() < max_parts) parts.emplace_back();
  return parts;
}

// An oracle failed: say which and abort, so the input is kept as a crash.
[[noreturn]] inline void oracle_failed(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "ORACLE FAILED: %s\n", what);
  std::fwrite(detail.data(), 1, detail.size(), stderr);
  std::fputc('\n', stderr);
  std::abort();
}

}  // namespace kcd::fuzz

#define KCD_FUZZ_CHECK(cond, detail)                                     \
  do {                                                                   \
    if (!(cond)) ::kcd::fuzz::oracle_failed(#cond, std::string(detail)); \
  } while (0)
