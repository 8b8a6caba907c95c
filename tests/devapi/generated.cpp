// UIDs, tokens, name suffixes and timestamps for devapi, from one per-thread generator.
#include "tests/devapi/generated.hpp"

#include "base/rfc3339.hpp"

#include <chrono>
#include <random>
#include <string_view>

namespace kcd::devapi {

namespace {

std::mt19937_64& rng() {
  static thread_local std::mt19937_64 r{std::random_device{}()};
  return r;
}

std::string random_chars(std::string_view alphabet, int count) {
  std::uniform_int_distribution<std::size_t> d(0, alphabet.size() - 1);
  std::string s;
  for (int i = 0; i < count; ++i) s += alphabet[d(rng())];
  return s;
}

}  // namespace

std::string random_uuid() {
  std::uniform_int_distribution<unsigned> d(0, 15);
  std::string s = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
  for (auto& c : s) {
    if (c == 'x')
      c = "0123456789abcdef"[d(rng())];
    else if (c == 'y')
      c = "89ab"[d(rng()) & 3];
  }
  return s;
}

std::string random_bootstrap_token() {
  constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return random_chars(kAlphabet, 6) + "." + random_chars(kAlphabet, 16);
}

std::string random_name_suffix() {
  // Kubernetes' generateName alphabet: consonants and digits without vowels.
  return random_chars("bcdfghjklmnpqrstvwxz2456789", 5);
}

std::string now_rfc3339() {
  return to_rfc3339(std::chrono::system_clock::now());
}

}  // namespace kcd::devapi
