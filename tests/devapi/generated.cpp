// UIDs, tokens, name suffixes and timestamps for devapi, from one per-thread generator.
#include "tests/devapi/generated.hpp"

#include "config/rfc3339.hpp"

#include <chrono>
#include <random>

namespace kcd::devapi {

namespace {

std::mt19937_64& rng() {
  static thread_local std::mt19937_64 r{std::random_device{}()};
  return r;
}

}  // namespace

std::string random_uuid() {
  std::uniform_int_distribution<unsigned> d(0, 15);
  std::string s = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
  for (auto& c : s) {
    if (c == 'x') c = "0123456789abcdef"[d(rng())];
    else if (c == 'y') c = "89ab"[d(rng()) & 3];
  }
  return s;
}

std::string random_bootstrap_token() {
  std::uniform_int_distribution<int> d(0, 35);
  const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string t;
  for (int i = 0; i < 6; ++i) t += alphabet[d(rng())];
  t += '.';
  for (int i = 0; i < 16; ++i) t += alphabet[d(rng())];
  return t;
}

std::string random_name_suffix() {
  std::uniform_int_distribution<int> d(0, 26);
  // Kubernetes' generateName alphabet: consonants and digits without vowels.
  const char* alphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string s;
  for (int i = 0; i < 5; ++i) s += alphabet[d(rng())];
  return s;
}

std::string now_rfc3339() { return to_rfc3339(std::chrono::system_clock::now()); }

}  // namespace kcd::devapi
