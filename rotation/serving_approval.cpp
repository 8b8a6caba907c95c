#include "rotation/serving_approval.hpp"

#include "base/cidr.hpp"
#include "base/regex_bounds.hpp"
#include "rotation/cert_kind.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <regex>

namespace kcd::rotation {

namespace {

constexpr std::string_view kNodePrefix = "system:node:";
constexpr std::string_view kNodesGroup = "system:nodes";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
  return out;
}

ServingDecision deny(std::string reason, std::string message) {
  return ServingDecision{Verdict::Deny, std::move(reason), std::move(message)};
}

}  // namespace

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::Approve:
      return "approved";
    case Verdict::Wait:
      return "pending";
    case Verdict::Deny:
      return "denied";
    case Verdict::NotOurs:
      return "ignored";
  }
  return "?";
}

std::optional<std::string> node_of_username(const std::string& username) {
  if (username.rfind(kNodePrefix, 0) != 0 || username.size() == kNodePrefix.size()) return std::nullopt;
  return username.substr(kNodePrefix.size());
}

ServingDecision decide_serving_csr(const ServingCsr& csr, const std::optional<std::vector<NodeAddress>>& node,
                                   const ServingApprovalPolicy& policy) {
  if (csr.signer_name != signer_name(CertKind::Serving)) {
    return ServingDecision{Verdict::NotOurs, "",
                           "signer " + csr.signer_name + " is not kubernetes.io/kubelet-serving"};
  }
  std::vector<std::string> checked;
  // Identity: who asked.
  const auto node_name = node_of_username(csr.username);
  if (!node_name) {
    return deny("IdentityNotANode", "spec.username \"" + csr.username + "\" is not system:node:<name>");
  }
  if (std::find(csr.groups.begin(), csr.groups.end(), kNodesGroup) == csr.groups.end()) {
    return deny("IdentityNotANode", "spec.groups do not include system:nodes");
  }
  checked.push_back("requested by " + csr.username + " in system:nodes");
  // The request itself.
  if (!csr.request) return deny("RequestInvalid", "spec.request does not parse: " + csr.request_problem);
  const ParsedCsr& r = *csr.request;
  if (!r.signature_valid) return deny("RequestInvalid", "spec.request's signature does not verify");
  if (r.subject.common_name != csr.username ||
      r.subject.organizations != std::vector<std::string>{"system:nodes"} ||
      !r.other_subject_fields.empty()) {
    std::string got = "CN=" + r.subject.common_name;
    for (const auto& o : r.subject.organizations) got += ", O=" + o;
    for (const auto& f : r.other_subject_fields) got += ", " + f;
    return deny("SubjectMismatch",
                "the subject is " + got + ", not exactly CN=" + csr.username + ", O=system:nodes");
  }
  checked.push_back("subject CN=" + csr.username + ", O=system:nodes");
  // Usages.
  static const std::vector<std::string> kAllowed = {"digital signature", "key encipherment", "server auth"};
  if (std::find(csr.usages.begin(), csr.usages.end(), "server auth") == csr.usages.end()) {
    return deny("UsagesNotAllowed", "usages [" + join(csr.usages) + "] do not include server auth");
  }
  for (const auto& u : csr.usages) {
    if (std::find(kAllowed.begin(), kAllowed.end(), u) == kAllowed.end())
      return deny("UsagesNotAllowed",
                  "usage \"" + u + "\" is not one of digital signature, key encipherment, server auth");
  }
  checked.push_back("usages [" + join(csr.usages) + "]");
  // SANs.
  if (!r.email_addresses.empty() || !r.uris.empty()) {
    return deny("SansNotAllowed", "email or URI SANs are not allowed in a serving certificate (" +
                                      join(r.email_addresses.empty() ? r.uris : r.email_addresses) + ")");
  }
  if (r.dns_names.empty() && r.ip_addresses.empty()) return deny("SansNotAllowed", "the request has no SAN");
  for (const auto& d : r.dns_names) {
    if (d.empty() || d.size() > 253)
      return deny("SansNotAllowed", "a DNS SAN is empty or longer than 253 bytes");
  }
  // Lifetime.
  if (csr.expiration_seconds && *csr.expiration_seconds > policy.max_expiration_seconds) {
    return deny("ExpirationTooLong", "expirationSeconds " + std::to_string(*csr.expiration_seconds) +
                                         " is above the allowed " +
                                         std::to_string(policy.max_expiration_seconds));
  }
  // The operator's narrowing.
  if (!policy.dns_pattern.empty()) {
    std::regex pattern;
    try {
      pattern = std::regex(policy.dns_pattern, kBoundedRegexFlags);
    } catch (const std::regex_error&) {
      // Our own configuration is wrong: never a reason to deny the node.
      return ServingDecision{Verdict::Wait, "PolicyInvalid", "the DNS name pattern does not compile"};
    }
    for (const auto& d : r.dns_names) {
      if (!std::regex_match(d, pattern))
        return deny("DnsNameNotAllowed",
                    "DNS SAN " + d + " does not match the allowed pattern " + policy.dns_pattern);
    }
  }
  if (!policy.allowed_ip_ranges.empty()) {
    for (const auto& ip : r.ip_addresses) {
      const bool inside = std::any_of(policy.allowed_ip_ranges.begin(), policy.allowed_ip_ranges.end(),
                                      [&](const std::string& c) { return ip_in_cidr(ip, c); });
      if (!inside) {
        return deny("IpNotAllowed",
                    "IP SAN " + ip + " is not in the allowed ranges " + join(policy.allowed_ip_ranges));
      }
    }
  }
  // The Node: transient facts wait, a SAN that is not the node's denies.
  if (!node) {
    return ServingDecision{Verdict::Wait, "NodeNotFound", "Node " + *node_name + " does not exist (yet)"};
  }
  if (node->empty()) {
    return ServingDecision{Verdict::Wait, "NodeHasNoAddresses",
                           "Node " + *node_name + " has no status.addresses yet"};
  }
  for (const auto& d : r.dns_names) {
    const bool known = std::any_of(node->begin(), node->end(), [&](const NodeAddress& a) {
      return (a.type == "Hostname" || a.type == "InternalDNS" || a.type == "ExternalDNS") &&
             lower(a.address) == lower(d);
    });
    if (!known)
      return deny("SanNotOfNode", "DNS SAN " + d + " is not among Node " + *node_name + "'s addresses");
  }
  for (const auto& ip : r.ip_addresses) {
    const auto bytes = ip_bytes(ip);
    const bool known =
        bytes && std::any_of(node->begin(), node->end(), [&](const NodeAddress& a) {
          return (a.type == "InternalIP" || a.type == "ExternalIP") && ip_bytes(a.address) == bytes;
        });
    if (!known)
      return deny("SanNotOfNode", "IP SAN " + ip + " is not among Node " + *node_name + "'s addresses");
  }
  std::vector<std::string> sans = r.dns_names;
  sans.insert(sans.end(), r.ip_addresses.begin(), r.ip_addresses.end());
  checked.push_back("SANs [" + join(sans) + "] are Node " + *node_name + "'s addresses");
  if (csr.expiration_seconds)
    checked.push_back("expirationSeconds " + std::to_string(*csr.expiration_seconds));
  return ServingDecision{Verdict::Approve, "KubeletCertdApproved", "kubelet-certd checked: " + join(checked)};
}

}  // namespace kcd::rotation
