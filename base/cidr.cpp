#include "base/cidr.hpp"

#include <arpa/inet.h>

#include <array>

namespace kcd {

namespace {

struct Cidr {
  std::vector<unsigned char> base;
  int bits = 0;
};

std::optional<Cidr> parse_cidr(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto base = ip_bytes(text.substr(0, slash));
  const std::string len = text.substr(slash + 1);
  if (!base || len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const int bits = std::stoi(len);
  if (bits > static_cast<int>(base->size() * 8)) return std::nullopt;
  return Cidr{std::move(*base), bits};
}

}  // namespace

std::optional<std::vector<unsigned char>> ip_bytes(const std::string& text) {
  std::array<unsigned char, 16> buf{};
  if (inet_pton(AF_INET, text.c_str(), buf.data()) == 1)
    return std::vector<unsigned char>(buf.begin(), buf.begin() + 4);
  if (inet_pton(AF_INET6, text.c_str(), buf.data()) == 1)
    return std::vector<unsigned char>(buf.begin(), buf.end());
  return std::nullopt;
}

std::optional<std::string> cidr_problem(const std::string& cidr) {
  if (parse_cidr(cidr)) return std::nullopt;
  return "\"" + cidr +
         "\" is not a CIDR (an IPv4 or IPv6 address, '/', and a prefix length of at most 32 or 128)";
}

bool ip_in_cidr(const std::string& ip, const std::string& cidr) {
  const auto bytes = ip_bytes(ip);
  const auto c = parse_cidr(cidr);
  if (!bytes || !c || bytes->size() != c->base.size()) return false;
  int bits = c->bits;
  for (std::size_t i = 0; i < bytes->size() && bits > 0; ++i, bits -= 8) {
    const unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
    if (((*bytes)[i] & mask) != (c->base[i] & mask)) return false;
  }
  return true;
}

}  // namespace kcd
