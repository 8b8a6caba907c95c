#include "rotation/node_request.hpp"

#include "base/rfc3339.hpp"
#include "rotation/key.hpp"

#include <algorithm>

namespace kcd::rotation {

const std::vector<std::string>& usages_for(CertKind kind) {
  static const std::vector<std::string> client = {"digital signature", "key encipherment", "client auth"};
  static const std::vector<std::string> serving = {"digital signature", "key encipherment", "server auth"};
  return kind == CertKind::Client ? client : serving;
}

CsrRequest request_for(CertKind kind, const NodeIdentity& node) {
  CsrRequest r;
  r.subject.common_name = "system:node:" + node.node_name;
  r.subject.organizations = {"system:nodes"};
  if (kind == CertKind::Serving) {
    r.dns_names = node.serving_dns_names;
    r.ip_addresses = node.serving_ips;
  }
  return r;
}

ValidationPolicy policy_for(CertKind kind, const NodeIdentity& node, EVP_PKEY* key,
                            const std::vector<ossl::X509Ptr>& anchors, SysTime at) {
  ValidationPolicy policy;
  const auto request = request_for(kind, node);
  policy.expected_key = key;
  policy.expected_subject = request.subject;
  policy.usage = kind == CertKind::Client ? Usage::ClientAuth : Usage::ServerAuth;
  policy.expected_dns = request.dns_names;
  policy.expected_ips = request.ip_addresses;
  for (const auto& a : anchors) policy.trust_anchors.push_back(a.get());
  policy.now = at;
  return policy;
}

namespace {
Unexpected<Error> refuse(std::string why) {
  return Unexpected(make_error(ErrorKind::Refused, std::move(why)));
}
}  // namespace

Expected<void> verify_ours(CertKind kind, const NodeIdentity& node, EVP_PKEY* pending_key,
                           const FiledCsr& csr) {
  auto parsed = parse_csr_pem(csr.request_pem);
  if (!parsed) return refuse("its request does not parse: " + parsed.error().message);
  if (!same_public_key(parsed->public_key.get(), pending_key))
    return refuse("its public key is not our pending key");
  if (!(parsed->subject == request_for(kind, node).subject)) return refuse("its subject differs");
  if (csr.signer_name != signer_name(kind)) return refuse("its signer is " + std::string(csr.signer_name));
  auto want = usages_for(kind);
  auto got = csr.usages;
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  if (want != got) return refuse("its usages differ");
  return {};
}

Expected<void> verify_usable(CertKind kind, const NodeIdentity& node, const std::vector<ossl::X509Ptr>& chain,
                             EVP_PKEY* key, SysTime not_after, const std::vector<ossl::X509Ptr>& anchors,
                             SysTime now) {
  if (now >= not_after) return refuse("certificate expired at " + to_rfc3339(not_after));
  auto alg = key_algorithm_of(key);
  if (!alg || *alg != node.key_algorithm) {
    return refuse("key is " + describe_key(key) + ", configured keyAlgorithm is " +
                  std::string(to_string(node.key_algorithm)));
  }
  if (anchors.empty()) return {};  // the chain cannot be checked without a CA: keep the certificate
  auto verdict = validate_issued(chain, policy_for(kind, node, key, anchors, now));
  if (!verdict) return Unexpected(verdict.error());
  return {};
}

}  // namespace kcd::rotation
