// PEM, certificates and chains: parse_certificates_pem, inspect_certificate of every certificate,
// validate_issued of the chain against its own last certificate as the anchor (so the checks run
// past "wrong key" and "wrong subject"), the text as a CA bundle (check_ca_bundle), private keys
// (load_private_key_pem) and RFC 3339 times (a certificate's validity ends up in status and the state file
// through them).
#include "base/rfc3339.hpp"
#include "rotation/ca_bundle.hpp"
#include "rotation/certificate.hpp"
#include "rotation/key.hpp"
#include "rotation/validate.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <openssl/err.h>

#include <chrono>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kcd::rotation;
  const auto text = kcd::fuzz::as_text(data, size);

  if (auto t = kcd::parse_rfc3339(text)) {
    // What parses prints back as the same instant.
    const std::string printed = kcd::to_rfc3339(*t, true);
    auto again = kcd::parse_rfc3339(printed);
    KCD_FUZZ_CHECK(again.has_value(), "printed time does not parse: " + printed);
    KCD_FUZZ_CHECK(std::chrono::floor<std::chrono::milliseconds>(*t) == *again,
                   "time round trip: " + printed);
  }

  if (auto key = load_private_key_pem(text, "fuzz.key")) (void)key_algorithm_of(key->get());
  KCD_FUZZ_CHECK(ERR_peek_error() == 0, "load_private_key_pem left an OpenSSL error queued");

  // The same text as a CA bundle: refused or accepted, never an OpenSSL error left behind, and an
  // accepted bundle holds only CAs and re-reads as itself.
  if (auto bundle = check_ca_bundle(text, "fuzz bundle", std::chrono::system_clock::now())) {
    for (const auto& i : bundle->info)
      KCD_FUZZ_CHECK(i.is_ca, "a bundle accepted a certificate that is not a CA");
    auto again = check_ca_bundle(bundle->pem, "fuzz bundle", std::chrono::system_clock::now());
    KCD_FUZZ_CHECK(again && again->info.size() == bundle->info.size(), "an accepted bundle does not re-read");
    (void)assess_bundle_change(*bundle, *again);
  }
  KCD_FUZZ_CHECK(ERR_peek_error() == 0, "check_ca_bundle left an OpenSSL error queued");

  auto chain = parse_certificates_pem(text, "fuzz.pem");
  KCD_FUZZ_CHECK(ERR_peek_error() == 0, "parse_certificates_pem left an OpenSSL error queued");
  if (!chain) return 0;
  KCD_FUZZ_CHECK(!chain->empty(), "an empty chain parsed");
  for (const auto& c : *chain) {
    const CertInfo info = inspect_certificate(c.get());
    (void)certificate_to_pem(c.get());
    (void)kcd::to_rfc3339(info.not_after);
  }
  const CertInfo leaf = inspect_certificate(chain->front().get());
  KCD_FUZZ_CHECK(ERR_peek_error() == 0,
                 "inspect_certificate or certificate_to_pem left an OpenSSL error queued");
  ValidationPolicy policy;
  EVP_PKEY* leaf_key = X509_get0_pubkey(chain->front().get());
  ERR_clear_error();  // ours, not the code under test's
  policy.expected_key = leaf_key;
  policy.expected_subject = Subject{leaf.common_name, leaf.organizations};
  policy.usage = leaf.ext_key_usages.empty() || leaf.ext_key_usages.front() != "server auth"
                     ? Usage::ClientAuth
                     : Usage::ServerAuth;
  policy.expected_dns = leaf.dns_names;
  policy.expected_ips = leaf.ip_addresses;
  policy.trust_anchors = {chain->back().get()};
  policy.now = leaf.not_before;  // no arithmetic here: the times are what is under test
  if (leaf_key != nullptr) (void)validate_issued(*chain, policy);
  KCD_FUZZ_CHECK(ERR_peek_error() == 0, "validate_issued left an OpenSSL error queued");
  return 0;
}
