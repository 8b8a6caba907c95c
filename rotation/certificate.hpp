// X.509 certificates: PEM chains in and out, and the facts status/validation need.
#pragma once

#include "base/expected.hpp"
#include "base/openssl.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::rotation {

using SysTime = std::chrono::system_clock::time_point;

// The longest certificate chain accepted (leaf + intermediates), issued or read back from disk.
inline constexpr std::size_t kMaxChainCertificates = 10;
// The most certificates accepted in a CA bundle (the cluster CA, the kubelet's client CA file).
inline constexpr std::size_t kMaxBundleCertificates = 1000;

// Every "CERTIFICATE" block in `pem`, in order (other blocks, e.g. keys, are skipped).
// An error names `source` and what is wrong (no certificate, bad base64, bad DER, more than
// `max_certificates`: refused as soon as one more block starts, so a huge chain is never parsed).
Expected<std::vector<ossl::X509Ptr>> parse_certificates_pem(
    std::string_view pem, std::string_view source, std::size_t max_certificates = kMaxChainCertificates);

std::string certificate_to_pem(X509* cert);

struct CertInfo {
  std::string common_name;
  std::vector<std::string> organizations;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::string issuer;  // one-line RFC 2253 form, e.g. "CN=kubernetes"
  std::string issuer_common_name;
  std::string serial;         // lowercase hex, no leading zeros
  std::string key_algorithm;  // describe_key(): "ECDSA P-256", "RSA 2048"
  SysTime not_before;
  SysTime not_after;
  bool is_ca = false;
  std::vector<std::string> ext_key_usages;  // Kubernetes spelling: "client auth", "server auth", ...
  std::vector<std::string> key_usages;      // "digital signature", "key encipherment", ...
  std::string sha256_fingerprint;           // lowercase hex of SHA-256 over the DER
};

CertInfo inspect_certificate(X509* cert);

}  // namespace kcd::rotation
