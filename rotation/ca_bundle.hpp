// The cluster CA bundle: what a node trusts for the API server (kubelet.conf's
// certificate-authority-data) and what its kubelet trusts for clients (clientCAFile), and how it
// may change during a CA rotation (kubeadm's documented procedure: the bundle grows by the new
// CA, the signer switches, the node's certificates are re-issued, the old CA is dropped).
// Pure: text in, decisions out, time passed in.
#pragma once

#include "base/expected.hpp"
#include "rotation/certificate.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kcd::rotation {

struct CaBundle {
  std::vector<ossl::X509Ptr> certs;  // in the bundle's order
  std::vector<CertInfo> info;        // the same certificates, inspected
  std::string pem;                   // the certificates re-encoded, one block each, in order
  bool contains(const CertInfo& c) const;
  std::vector<X509*> anchors() const;
};

// Every PEM block in `pem` must be a CERTIFICATE that parses, with basicConstraints CA:TRUE,
// valid at `now` (notBefore <= now < notAfter); at least one, at most kMaxBundleCertificates.
// The error (ErrorKind::Refused) names `source`, the block (its number, subject and SHA-256
// prefix) and why; nothing may be written from a bundle that fails.
Expected<CaBundle> check_ca_bundle(std::string_view pem, std::string_view source, SysTime now);

// "CN=kubernetes (sha256 1a2b3c4d)": how a CA is named in logs, errors and Events (the CN
// escaped: it comes from outside). Only a name: CAs are told apart by their full SHA-256.
std::string describe_ca(const CertInfo& ca);

// What a node does when the cluster publishes `published` while it trusts `trusted`.
struct BundleChange {
  enum class Verdict {
    Same,    // the same certificates (in any order)
    Follow,  // write it: every trusted CA is still in it, renewed in it (same subject and key), or
             // dropped while the bundle keeps at least one CA the node already trusts
    Refuse,  // it shares no CA with what the node trusts: not followed (`why` says how to go on)
  } verdict = Verdict::Same;
  std::vector<std::string> added;    // describe_ca of each CA new in `published`
  std::vector<std::string> dropped;  // each trusted CA absent from it (renewed ones excluded)
  std::vector<std::string> added_sha256, dropped_sha256;  // the same CAs by full SHA-256
  std::string why;
};
BundleChange assess_bundle_change(const CaBundle& trusted, const CaBundle& published);

// The certificate `chain` (leaf first, then intermediates) was signed by a CA among `cas`,
// directly or through its intermediates. Signatures only: validity times are not judged here.
bool issued_by(const std::vector<ossl::X509Ptr>& chain, const std::vector<X509*>& cas);

}  // namespace kcd::rotation
