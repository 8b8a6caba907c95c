#include "rotation/serving_policy.hpp"

#include <algorithm>

namespace kcd::rotation {

std::vector<std::string> check_serving_request(
    const std::string& node_name, const CsrRequest& request, std::optional<std::int64_t> expiration_seconds,
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
    problems.push_back("servingExpirationSeconds " + std::to_string(*expiration_seconds) +
                       " is above 367 days");
  }
  return problems;
}

}  // namespace kcd::rotation
