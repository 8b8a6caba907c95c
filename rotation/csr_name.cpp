#include "rotation/csr_name.hpp"

#include "config/base64.hpp"
#include "rotation/key.hpp"

#include <openssl/evp.h>

namespace kcd::rotation {


std::string csr_name(EVP_PKEY* key, const CsrRequest& request, const std::vector<std::string>& usages) {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  ossl::check(ctx != nullptr, "EVP_MD_CTX_new");
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA512-256", nullptr);
  ossl::check(md != nullptr, "EVP_MD_fetch(SHA512-256)");
  const bool init = EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1;
  EVP_MD_free(md);
  ossl::check(init, "EVP_DigestInit_ex(SHA512-256)");
  // kubelet writes base64url(field) followed by '|' (not in the base64url alphabet) so two
  // different field lists can never produce the same byte stream.
  auto write = [&](std::string_view data) {
    const std::string encoded = base64url_encode_nopad(data);
    ossl::check(EVP_DigestUpdate(ctx.get(), encoded.data(), encoded.size()) == 1, "EVP_DigestUpdate");
    ossl::check(EVP_DigestUpdate(ctx.get(), "|", 1) == 1, "EVP_DigestUpdate");
  };
  write(public_key_der(key));
  write(request.subject.common_name);
  for (const auto& o : request.subject.organizations) write(o);
  for (const auto& u : usages) write(u);
  // Beyond kubelet's scheme (which has no SANs): serving requests include their SANs.
  for (const auto& d : request.dns_names) write(d);
  for (const auto& ip : request.ip_addresses) write(ip);
  unsigned char sum[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ossl::check(EVP_DigestFinal_ex(ctx.get(), sum, &len) == 1, "EVP_DigestFinal_ex");
  // Object names of CSRs are validated as path segments, not DNS labels: base64url's
  // uppercase letters, '-' and '_' are accepted, as kubelet's own node-csr-* names show.
  return "node-csr-" + base64url_encode_nopad(std::string_view(reinterpret_cast<char*>(sum), len));
}

}  // namespace kcd::rotation
