#include "rotation/csr_name.hpp"

#include "base/base64.hpp"
#include "rotation/key.hpp"

#include <openssl/evp.h>

#include <array>

namespace kcd::rotation {

namespace {
using MdPtr = std::unique_ptr<EVP_MD, ossl::Deleter<EVP_MD_free>>;
}  // namespace

std::string csr_name(EVP_PKEY* key, const CsrRequest& request, const std::vector<std::string>& usages) {
  // Go's sha512.New512_256: SHA-512 with its own IVs, truncated to 256 bits (not a plain
  // truncation of SHA-512).
  MdPtr md(EVP_MD_fetch(nullptr, "SHA512-256", nullptr));
  ossl::check(md != nullptr, "EVP_MD_fetch", "SHA512-256");
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  ossl::check(ctx != nullptr, "EVP_MD_CTX_new");
  ossl::check(EVP_DigestInit_ex(ctx.get(), md.get(), nullptr) == 1, "EVP_DigestInit_ex", "SHA512-256");
  // kubelet writes base64url(field) followed by '|' (not in the base64url alphabet) so two
  // different field lists can never produce the same byte stream.
  auto write = [&](std::string_view data) {
    const std::string encoded = base64url_encode_nopad(data);
    ossl::check(EVP_DigestUpdate(ctx.get(), encoded.data(), encoded.size()) == 1, "EVP_DigestUpdate");
    ossl::check(EVP_DigestUpdate(ctx.get(), "|", 1) == 1, "EVP_DigestUpdate");
  };
  write(public_key_der(key));  // x509.MarshalPKIXPublicKey: DER SubjectPublicKeyInfo
  write(request.subject.common_name);
  for (const auto& o : request.subject.organizations) write(o);
  for (const auto& u : usages) write(u);
  // Beyond kubelet's scheme (which files no serving CSRs under digested names): serving
  // requests include their SANs, so a changed SAN set never reuses an old request.
  for (const auto& d : request.dns_names) write(d);
  for (const auto& ip : request.ip_addresses) write(ip);
  std::array<unsigned char, EVP_MAX_MD_SIZE> sum{};
  unsigned int len = 0;
  ossl::check(EVP_DigestFinal_ex(ctx.get(), sum.data(), &len) == 1, "EVP_DigestFinal_ex");
  // CSR names are not DNS names: certificates.k8s.io validates them with
  // ValidateCertificateRequestName, which accepts anything, and the generic registry only
  // applies the path-segment rules (no "/", "%", "." or ".."). So base64url's uppercase
  // letters, '-' and '_' are fine, and kubelet's own node-csr-<digest> names rely on it.
  return "node-csr-" +
         base64url_encode_nopad(std::string_view(reinterpret_cast<const char*>(sum.data()), len));
}

}  // namespace kcd::rotation
