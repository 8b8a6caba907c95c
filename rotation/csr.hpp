// PKCS#10 certificate signing requests: building ours, parsing anyone's.
#pragma once

#include "base/expected.hpp"
#include "base/openssl.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kcd::rotation {

struct Subject {
  std::string common_name;
  std::vector<std::string> organizations;  // in order
  bool operator==(const Subject&) const = default;
};

// What a CSR asks for. Client certificates have no SANs at all.
struct CsrRequest {
  Subject subject;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // textual, IPv4 or IPv6
};

// Builds a PEM "CERTIFICATE REQUEST" signed by `key` (SHA-256; SHA-384 for P-384).
// The subject is exactly O=<organizations...>, CN=<common_name> (as kubelet orders it);
// SANs go into a subjectAltName extension request only when present.
// An IP address that does not parse is a Config error (key servingIPs). OpenSSL calls that
// fail only when something is broken (allocation) throw ossl::CallFailed.
Expected<std::string> build_csr_pem(EVP_PKEY* key, const CsrRequest& request);

struct ParsedCsr {
  Subject subject;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // normalised text (inet_ntop form)
  std::vector<std::string> email_addresses;
  std::vector<std::string> uris;
  ossl::PKeyPtr public_key;
  bool signature_valid = false;
  // Other subject attributes (OU, C, ...) present, if any, as "SN=value".
  std::vector<std::string> other_subject_fields;
};

// Parses a PEM CSR; an error string says what is wrong ("not a PEM CERTIFICATE REQUEST", ...).
Expected<ParsedCsr> parse_csr_pem(std::string_view pem);

}  // namespace kcd::rotation
