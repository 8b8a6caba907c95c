// Stable CSR names: the same key + request always gives the same name.
#pragma once

#include "rotation/csr.hpp"

#include <string>
#include <vector>

namespace kcd::rotation {

// kubelet's digestedName scheme (pkg/kubelet/certificate/bootstrap): "node-csr-" +
// base64url-nopad(SHA-512/256 over base64url-nopad(x) + '|' for x in: PKIX public key DER,
// CN, each O, each usage). For a request without SANs the result is byte-identical to
// kubelet's. SANs (serving certificates), when present, are appended to the digest the same
// way (each DNS name, then each IP), so a different SAN set never reuses a name.
std::string csr_name(EVP_PKEY* key, const CsrRequest& request, const std::vector<std::string>& usages);

}  // namespace kcd::rotation
