// What a node asks for and how to tell whether a certificate or a CSR matches it: the agent's
// decisions about its own requests, pure functions of the node's identity and what they are given.
#pragma once

#include "base/key_algorithm.hpp"
#include "base/openssl.hpp"
#include "rotation/cert_kind.hpp"
#include "rotation/certificate.hpp"
#include "rotation/csr.hpp"
#include "rotation/validate.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kcd::rotation {

// Who the node is, as its certificates must name it (from the settings).
struct NodeIdentity {
  std::string node_name;
  std::vector<std::string> serving_dns_names;
  std::vector<std::string> serving_ips;
  KeyAlgorithm key_algorithm = KeyAlgorithm::EcdsaP256;
};

// The key usages a CSR of `kind` asks for: the set every Kubernetes version accepts (1.24
// approves nothing else; see the fixtures).
const std::vector<std::string>& usages_for(CertKind kind);

// The subject and SANs a CSR of `kind` asks for: system:node:<name> in system:nodes, and for
// serving certificates the configured DNS names and IPs.
CsrRequest request_for(CertKind kind, const NodeIdentity& node);

// What an issued (or installed) certificate of `kind` carrying `key` must look like at `at`.
ValidationPolicy policy_for(CertKind kind, const NodeIdentity& node, EVP_PKEY* key,
                            const std::vector<ossl::X509Ptr>& anchors, SysTime at);

// A CSR as found on the server, in the fields that decide whether it is ours.
struct FiledCsr {
  std::string_view request_pem;
  std::string_view signer_name;
  std::vector<std::string> usages;
};

// Succeeds when the CSR found on the server is the one we would file with `pending_key`; else a
// Refused error says what differs: another key, subject, signer or set of usages means someone
// else filed it.
Expected<void> verify_ours(CertKind kind, const NodeIdentity& node, EVP_PKEY* pending_key,
                           const FiledCsr& csr);

// Succeeds when the installed certificate of `kind` may stay at `now`; else a Refused error
// says why it must be replaced: expired, a key algorithm other than the configured one, or
// (when the cluster CA is known) not what policy_for() demands.
Expected<void> verify_usable(CertKind kind, const NodeIdentity& node, const std::vector<ossl::X509Ptr>& chain,
                             EVP_PKEY* key, SysTime not_after, const std::vector<ossl::X509Ptr>& anchors,
                             SysTime now);

}  // namespace kcd::rotation
