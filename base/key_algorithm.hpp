// The private-key algorithms kubelet-certd can generate, and their setting names.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace kcd {

enum class KeyAlgorithm { EcdsaP256, EcdsaP384, Rsa2048, Rsa3072, Rsa4096 };

inline constexpr std::array<std::string_view, 5> kKeyAlgorithmNames = {"ECDSA-P256", "ECDSA-P384", "RSA-2048",
                                                                       "RSA-3072", "RSA-4096"};

constexpr std::string_view to_string(KeyAlgorithm a) {
  return kKeyAlgorithmNames[static_cast<std::size_t>(a)];
}

// Exact, case-sensitive match on the names above; nullopt otherwise.
constexpr std::optional<KeyAlgorithm> parse_key_algorithm(std::string_view s) {
  for (std::size_t i = 0; i < kKeyAlgorithmNames.size(); ++i) {
    if (kKeyAlgorithmNames[i] == s) return static_cast<KeyAlgorithm>(i);
  }
  return std::nullopt;
}

}  // namespace kcd
