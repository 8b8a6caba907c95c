#include "rotation/serving_policy.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>

namespace kcd::rotation {

std::vector<std::string> check_serving_request(const std::string& node_name, const CsrRequest& request,
                                               std::optional<std::int64_t> expiration_seconds,
                                               const std::function<std::vector<std::string>(const std::string&)>& resolve) {
  std::vector<std::string> problems;
  if (request.ip_addresses.empty()) {
    problems.push_back("no IP address SAN: approvers (and the kubelet) require at least one; set servingIPs");
  }
  if (request.dns_names.size() > 1) {
    problems.push_back("more than one DNS name SAN (" + std::to_string(request.dns_names.size()) +
                       "): strict approvers allow one; keep one in servingDNSNames");
  }
  for (const auto& dns : request.dns_names) {
    if (dns.rfind(node_name, 0) != 0) {
      problems.push_back("DNS name " + dns + " does not start with the node name " + node_name);
      continue;
    }
    const auto addresses = resolve(dns);
    if (addresses.empty()) {
      problems.push_back("DNS name " + dns + " does not resolve");
      continue;
    }
    for (const auto& ip : request.ip_addresses) {
      if (std::find(addresses.begin(), addresses.end(), ip) == addresses.end()) {
        problems.push_back("IP " + ip + " is not among the addresses " + dns + " resolves to");
      }
    }
  }
  if (expiration_seconds && *expiration_seconds > 367LL * 24 * 3600) {
    problems.push_back("servingExpirationSeconds " + std::to_string(*expiration_seconds) + " is above 367 days");
  }
  return problems;
}

std::vector<std::string> resolve_host(const std::string& name) {
  std::vector<std::string> out;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0) return out;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, text, sizeof text);
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, text, sizeof text);
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(text);
  }
  ::freeaddrinfo(res);
  return out;
}

}  // namespace kcd::rotation
