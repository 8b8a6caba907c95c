#include "rotation/validate.hpp"

#include "config/rfc3339.hpp"
#include "rotation/key.hpp"

#include <algorithm>

namespace kcd::rotation {

namespace {

std::string list(const std::vector<std::string>& v) {
  if (v.empty()) return "none";
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Any subject attribute other than CN and O (OU, C, L, ...).
std::vector<std::string> other_subject_fields(X509* cert) {
  std::vector<std::string> out;
  const X509_NAME* name = X509_get_subject_name(cert);
  int cn = 0;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, i)));
    if (nid == NID_commonName && cn++ == 0) continue;
    if (nid == NID_organizationName) continue;
    const char* sn = OBJ_nid2sn(nid);
    out.push_back(sn != nullptr ? sn : "?");
  }
  return out;
}

bool has_other_sans(X509* cert) {
  ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const int type = sk_GENERAL_NAME_value(names.get(), i)->type;
    if (type != GEN_DNS && type != GEN_IPADD) return true;
  }
  return false;
}

}  // namespace

Expected<CertInfo, std::string> validate_issued(const std::vector<ossl::X509Ptr>& chain, const ValidationPolicy& policy) {
  if (chain.empty()) return Unexpected(std::string("no certificate in the response"));
  X509* leaf = chain.front().get();
  CertInfo info = inspect_certificate(leaf);

  EVP_PKEY* pub = X509_get0_pubkey(leaf);
  if (policy.expected_key == nullptr || !same_public_key(pub, policy.expected_key)) {
    return Unexpected(std::string("its public key is not the key we generated for this request"));
  }
  if (info.common_name != policy.expected_subject.common_name) {
    return Unexpected("its subject CN is \"" + info.common_name + "\", expected \"" + policy.expected_subject.common_name + "\"");
  }
  if (info.organizations != policy.expected_subject.organizations) {
    return Unexpected("its subject O is [" + list(info.organizations) + "], expected [" +
                      list(policy.expected_subject.organizations) + "]");
  }
  if (auto other = other_subject_fields(leaf); !other.empty()) {
    return Unexpected("its subject has unexpected fields: " + list(other));
  }
  const std::string usage = policy.usage == Usage::ClientAuth ? "client auth" : "server auth";
  if (std::find(info.ext_key_usages.begin(), info.ext_key_usages.end(), usage) == info.ext_key_usages.end()) {
    return Unexpected("its extended key usage is [" + list(info.ext_key_usages) + "], which lacks " + usage);
  }
  if (info.is_ca) return Unexpected(std::string("it is a CA certificate (basicConstraints CA:TRUE)"));
  if (policy.usage == Usage::ClientAuth) {
    if (!info.dns_names.empty() || !info.ip_addresses.empty() || has_other_sans(leaf)) {
      return Unexpected("a client certificate must have no subject alternative names, it has [" +
                        list(info.dns_names) + "; " + list(info.ip_addresses) + "]");
    }
  } else {
    if (sorted(info.dns_names) != sorted(policy.expected_dns)) {
      return Unexpected("its DNS names are [" + list(info.dns_names) + "], requested [" + list(policy.expected_dns) + "]");
    }
    if (sorted(info.ip_addresses) != sorted(policy.expected_ips)) {
      return Unexpected("its IP addresses are [" + list(info.ip_addresses) + "], requested [" + list(policy.expected_ips) + "]");
    }
    if (has_other_sans(leaf)) return Unexpected(std::string("it has email or URI subject alternative names"));
  }

  if (info.not_before > policy.now + policy.clock_skew) {
    return Unexpected("it is not valid yet (notBefore " + to_rfc3339(info.not_before) + "; is this node's clock behind?)");
  }
  if (info.not_after <= policy.now) return Unexpected("it has expired (notAfter " + to_rfc3339(info.not_after) + ")");

  // Chain to the cluster CA, through the intermediates that came with it.
  ossl::X509StorePtr store(X509_STORE_new());
  ossl::check(store != nullptr, "X509_STORE_new");
  for (X509* anchor : policy.trust_anchors) X509_STORE_add_cert(store.get(), anchor);
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (std::size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted, chain[i].get());
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  ossl::check(ctx != nullptr && X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted) == 1, "X509_STORE_CTX_init");
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // Validity is checked below with our own skew tolerance; the chain check uses a time
  // inside the leaf's validity so it judges only the signatures and the CA constraints.
  const SysTime check_at = std::clamp(policy.now, info.not_before, info.not_after - std::chrono::seconds(1));
  X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(check_at));
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);
  const int ok = X509_verify_cert(ctx.get());
  const int verr = X509_STORE_CTX_get_error(ctx.get());
  sk_X509_free(untrusted);
  ERR_clear_error();
  if (ok != 1) {
    return Unexpected("it does not chain to the cluster CA: " + std::string(X509_verify_cert_error_string(verr)) +
                      " (issuer " + info.issuer + ")");
  }

  return info;
}

}  // namespace kcd::rotation
