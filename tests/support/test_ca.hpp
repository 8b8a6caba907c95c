// A certificate authority for tests and devapi: issues any certificate, good or deliberately bad.
#pragma once

#include "base/key_algorithm.hpp"
#include "rotation/csr.hpp"
#include "base/openssl.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace kcd::testing {

using SysTime = std::chrono::system_clock::time_point;

struct CertSpec {
  rotation::Subject subject;
  std::vector<std::string> extra_subject_fields;  // e.g. "OU=ops" (for bad-certificate tables)
  std::vector<std::string> dns_names, ip_addresses, email_addresses, uris;
  std::vector<std::string> ext_key_usages;  // Kubernetes spelling: "client auth", "server auth", "any", ...
  std::vector<std::string>
      key_usages;      // "digital signature", "key encipherment", "cert sign", ... (critical)
  bool is_ca = false;  // basicConstraints CA:TRUE (critical), else CA:FALSE (critical)
  bool omit_basic_constraints = false;
  SysTime not_before{};
  SysTime not_after{};
  std::optional<std::string> serial_hex;  // random 128-bit when unset
};

class TestCa {
 public:
  // A self-signed root (CA:TRUE, keyCertSign), valid from an hour ago for `validity`.
  static TestCa create_root(const std::string& cn = "kubernetes",
                            KeyAlgorithm algorithm = KeyAlgorithm::Rsa2048,
                            std::chrono::hours validity = std::chrono::hours(24 * 3650));
  // A CA from PEM (e.g. devapi's persisted one); throws std::runtime_error / ossl::Error.
  static TestCa load(std::string_view cert_pem, std::string_view key_pem);

  // An ECDSA P-256 intermediate CA signed by this one, valid from an hour ago for a year.
  TestCa create_intermediate(const std::string& cn) const;

  X509* cert() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }
  std::string cert_pem() const;
  std::string key_pem() const;

  // A certificate for `subject_public_key`, signed by this CA (SHA-256, SKI/AKI set), with
  // exactly the extensions `spec` asks for (subject O..., extra fields, then CN). Throws
  // std::invalid_argument for a malformed spec, ossl::Error when OpenSSL refuses it.
  ossl::X509Ptr issue(EVP_PKEY* subject_public_key, const CertSpec& spec) const;

  // A TLS server certificate for 127.0.0.1, ::1 and localhost (plus `extra_dns`), valid a year.
  ossl::X509Ptr issue_server(EVP_PKEY* key, const std::vector<std::string>& extra_dns = {}) const;

 private:
  TestCa(ossl::X509Ptr cert, ossl::PKeyPtr key) : cert_(std::move(cert)), key_(std::move(key)) {}
  ossl::X509Ptr cert_;
  ossl::PKeyPtr key_;
};

std::string to_pem(X509* cert);

}  // namespace kcd::testing
