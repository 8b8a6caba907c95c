// The rules that decide a kubernetes.io/kubelet-serving CSR: the one implementation, used by
// `kubelet-certd approve` and by the agent's pre-check before it files its own request.
// Pure: the CSR, the Node's addresses and the policy are passed in.
//
// A CSR is approved only when all of these hold:
//   - spec.username is system:node:<n> and spec.groups include system:nodes;
//   - the request's subject is exactly CN=<spec.username>, O=system:nodes, nothing else;
//   - the usages include "server auth" and are a subset of {digital signature,
//     key encipherment, server auth};
//   - there are no email or URI SANs, and there is at least one SAN;
//   - expirationSeconds, when given, is at most the policy's maximum;
//   - every DNS SAN matches the policy's pattern and every IP SAN is in its ranges (when set);
//   - every DNS and IP SAN is among Node <n>'s status.addresses.
// A request that cannot be decided yet (no Node <n>, or a Node without addresses) waits; a
// transient reason never denies. Everything else that fails is denied, naming the rule.
#pragma once

#include "rotation/csr.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kcd::rotation {

// What a CertificateSigningRequest says (spec), with its request parsed (or why not).
struct ServingCsr {
  std::string name;
  std::string signer_name;
  std::string username;
  std::vector<std::string> groups;
  std::vector<std::string> usages;
  std::optional<std::int64_t> expiration_seconds;
  std::optional<ParsedCsr> request;  // nullopt: request_problem says why
  std::string request_problem;
};

// One entry of a Node's status.addresses.
struct NodeAddress {
  std::string type;  // InternalIP, ExternalIP, Hostname, InternalDNS, ExternalDNS
  std::string address;
};

// What narrows approval further than the Node's addresses.
struct ServingApprovalPolicy {
  std::string dns_pattern;                     // ECMAScript regex every DNS SAN must match; empty: any
  std::vector<std::string> allowed_ip_ranges;  // CIDRs every IP SAN must be in; empty: any
  std::int64_t max_expiration_seconds = 367LL * 24 * 3600;
};

enum class Verdict { Approve, Wait, Deny, NotOurs };
std::string_view to_string(Verdict v);

struct ServingDecision {
  Verdict verdict = Verdict::Wait;
  // A stable CamelCase word: the condition's reason, and the metric's rule label.
  // Approve: "KubeletCertdApproved"; Wait: NodeNotFound, NodeHasNoAddresses; Deny: one per rule.
  std::string reason;
  std::string message;  // what failed, or what was checked (the approval's message)
};

// The node name in a "system:node:<n>" user name; nullopt when it is not one.
std::optional<std::string> node_of_username(const std::string& username);

// Decides `csr`. `node` is Node <n>'s status.addresses, nullopt when there is no such Node.
ServingDecision decide_serving_csr(const ServingCsr& csr, const std::optional<std::vector<NodeAddress>>& node,
                                   const ServingApprovalPolicy& policy);

}  // namespace kcd::rotation
