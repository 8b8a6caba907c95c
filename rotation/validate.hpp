// Is an issued certificate acceptable to install? A pure function of its inputs.
#pragma once

#include "base/expected.hpp"
#include "rotation/certificate.hpp"
#include "rotation/csr.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace kcd::rotation {

enum class Usage { ClientAuth, ServerAuth };

struct ValidationPolicy {
  EVP_PKEY* expected_key = nullptr;       // the key we generated; the leaf must carry its public half
  Subject expected_subject;               // exact CN and O list
  Usage usage = Usage::ClientAuth;        // required EKU
  std::vector<std::string> expected_dns;  // serving: every requested SAN must be present, nothing else
  std::vector<std::string> expected_ips;
  std::vector<X509*> trust_anchors;  // the cluster CA bundle
  SysTime now;
  // Our clock may run behind the signer's: accept notBefore up to this far in the future.
  std::chrono::seconds clock_skew{std::chrono::minutes(5)};
};

// Checks, in this order, and reports the first failure as one sentence naming the fact:
// chain present and at most kMaxChainCertificates long; leaf public key == expected_key; subject exactly
// expected (one CN, the O list in order, no other fields); EKU contains the usage; not a CA (basicConstraints
// CA:FALSE or absent); SANs (client: none of any type; serving: exactly the expected DNS
// names and IPs, in any order, IPs compared in canonical form, nothing else); valid at now
// (notBefore <= now + clock_skew, notAfter > now); chains to one of trust_anchors through
// the intermediates that follow the leaf (X509_verify_cert, purpose any; like Go's
// x509.Verify any certificate in the CA bundle is an anchor, also an intermediate).
// On success, the leaf's CertInfo.
Expected<CertInfo> validate_issued(const std::vector<ossl::X509Ptr>& chain, const ValidationPolicy& policy);

// X509_verify_cert over `chain` (leaf first, then intermediates) against `anchors` at `at`:
// any anchor may end the chain (partial chains, as Go's x509.Verify), purpose any. Empty on
// success, else OpenSSL's verdict.
std::string verify_chain(const std::vector<ossl::X509Ptr>& chain, const std::vector<X509*>& anchors,
                         SysTime at);

}  // namespace kcd::rotation
