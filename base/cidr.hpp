// IP addresses and CIDR ranges, compared in binary form (so "fd00::11" equals "fd00:0::11").
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kcd {

// An IPv4 (4 bytes) or IPv6 (16 bytes) address, or nullopt when `text` is neither.
std::optional<std::vector<unsigned char>> ip_bytes(const std::string& text);

// Why `cidr` ("10.0.0.0/8", "fd00::/64") is not a CIDR, or nullopt when it is one.
std::optional<std::string> cidr_problem(const std::string& cidr);

// True when `ip` is an address inside `cidr` (false when either does not parse).
bool ip_in_cidr(const std::string& ip, const std::string& cidr);

}  // namespace kcd
