// Standard base64 (RFC 4648 §4, with padding), as Kubernetes uses it in JSON and kubeconfigs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kcd {

std::string base64_encode(std::string_view data);
// URL-safe alphabet, no padding (Go's base64.RawURLEncoding).
std::string base64url_encode_nopad(std::string_view data);
// Strict decoding; ASCII whitespace is ignored. nullopt on any other invalid input.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kcd
