#include "rotation/validate.hpp"

#include "base/rfc3339.hpp"
#include "rotation/key.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace kcd::rotation {

namespace {

struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const noexcept {
    sk_X509_free(s);
  }  // the certificates stay owned by the chain
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;

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

// The inet_ntop form of a textual IP, so "fd00::05" in a setting equals "fd00::5" in the
// certificate; text that is no IP stays as it is (and so never matches).
std::string canonical_ip(const std::string& text) {
  std::array<unsigned char, 16> buf{};
  std::array<char, INET6_ADDRSTRLEN> out{};
  if (inet_pton(AF_INET, text.c_str(), buf.data()) == 1 &&
      inet_ntop(AF_INET, buf.data(), out.data(), out.size()) != nullptr) {
    return out.data();
  }
  if (inet_pton(AF_INET6, text.c_str(), buf.data()) == 1 &&
      inet_ntop(AF_INET6, buf.data(), out.data(), out.size()) != nullptr) {
    return out.data();
  }
  return text;
}

// The subject's CN entries and every attribute other than CN and O (OU, C, L, ...).
struct SubjectExtras {
  std::vector<std::string> common_names;
  std::vector<std::string> others;  // "SN=value"
};

SubjectExtras subject_extras(X509* cert) {
  SubjectExtras out;
  const X509_NAME* name = X509_get_subject_name(cert);
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    const std::string value = ossl::asn1_to_utf8(X509_NAME_ENTRY_get_data(e));
    if (nid == NID_commonName) {
      out.common_names.push_back(value);
    } else if (nid != NID_organizationName) {
      const char* sn = OBJ_nid2sn(nid);
      out.others.push_back(std::string(sn != nullptr ? sn : "?") + "=" + value);
    }
  }
  return out;
}

// Every SAN, typed ("DNS:x", "IP:y", "email:z", "URI:u", "other"), for messages.
std::vector<std::string> all_sans(X509* cert) {
  std::vector<std::string> out;
  ossl::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  ERR_clear_error();
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    switch (gn->type) {
      case GEN_DNS:
        out.push_back("DNS:" + ossl::asn1_to_utf8(gn->d.dNSName));
        break;
      case GEN_IPADD:
        out.push_back("IP:" + ossl::ip_to_text(gn->d.iPAddress));
        break;
      case GEN_EMAIL:
        out.push_back("email:" + ossl::asn1_to_utf8(gn->d.rfc822Name));
        break;
      case GEN_URI:
        out.push_back("URI:" + ossl::asn1_to_utf8(gn->d.uniformResourceIdentifier));
        break;
      default:
        out.emplace_back("other name");
        break;
    }
  }
  return out;
}

// Why an issued certificate is not installed: the daemon logs it and files a new request.
Unexpected<Error> reject(std::string why) {
  return Unexpected(make_error(ErrorKind::Refused, std::move(why)));
}

}  // namespace

std::string verify_chain(const std::vector<ossl::X509Ptr>& chain, const std::vector<X509*>& anchors,
                         SysTime at) {
  ossl::X509StorePtr store(X509_STORE_new());
  ossl::check(store != nullptr, "X509_STORE_new");
  for (X509* anchor : anchors) {
    // X509_STORE_add_cert ignores duplicates, so a bundle listing a CA twice is fine.
    ossl::check(X509_STORE_add_cert(store.get(), anchor) == 1, "X509_STORE_add_cert", "cluster CA bundle");
  }
  // Like Go's x509.Verify (what client-go and kubelet use), any certificate in the cluster CA
  // bundle is a trust anchor, also an intermediate whose root is not in the bundle.
  ossl::check(X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN) == 1, "X509_STORE_set_flags");

  X509StackPtr untrusted(sk_X509_new_null());
  ossl::check(untrusted != nullptr, "sk_X509_new_null");
  for (std::size_t i = 1; i < chain.size(); ++i) {
    ossl::check(sk_X509_push(untrusted.get(), chain[i].get()) > 0, "sk_X509_push");
  }
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  ossl::check(ctx != nullptr, "X509_STORE_CTX_new");
  ossl::check(X509_STORE_CTX_init(ctx.get(), store.get(), chain.front().get(), untrusted.get()) == 1,
              "X509_STORE_CTX_init");
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), std::chrono::system_clock::to_time_t(at));
  // Purpose "any": the EKU was judged above, and a CA's own EKU must not veto the leaf.
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);
  const int ok = X509_verify_cert(ctx.get());
  const int verr = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (ok == 1) return {};
  const char* reason = X509_verify_cert_error_string(verr);
  return reason != nullptr ? reason : "verification failed";
}

Expected<CertInfo> validate_issued(const std::vector<ossl::X509Ptr>& chain, const ValidationPolicy& policy) {
  if (chain.empty() || !chain.front()) return reject(std::string("no certificate in the response"));
  if (chain.size() > kMaxChainCertificates) {
    return reject("the chain has " + std::to_string(chain.size()) + " certificates, more than the limit of " +
                  std::to_string(kMaxChainCertificates));
  }
  X509* leaf = chain.front().get();
  CertInfo info = inspect_certificate(leaf);

  EVP_PKEY* pub = X509_get0_pubkey(leaf);
  if (policy.expected_key == nullptr || !same_public_key(pub, policy.expected_key)) {
    return reject("its public key (" + describe_key(pub) +
                  ") is not the key we generated for this request (" + describe_key(policy.expected_key) +
                  ")");
  }
  const SubjectExtras extras = subject_extras(leaf);
  // Two CNs are ambiguous: OpenSSL reads the first, Go's pkix.Name the last.
  if (extras.common_names.size() > 1) {
    return reject("its subject has " + std::to_string(extras.common_names.size()) + " CNs [" +
                  list(extras.common_names) + "], expected only \"" + policy.expected_subject.common_name +
                  "\"");
  }
  if (info.common_name != policy.expected_subject.common_name) {
    return reject("its subject CN is \"" + info.common_name + "\", expected \"" +
                  policy.expected_subject.common_name + "\"");
  }
  if (info.organizations != policy.expected_subject.organizations) {
    return reject("its subject O is [" + list(info.organizations) + "], expected [" +
                  list(policy.expected_subject.organizations) + "]");
  }
  if (!extras.others.empty()) {
    return reject("its subject has unexpected fields: " + list(extras.others) +
                  " (only CN and O were requested)");
  }
  const std::string usage = policy.usage == Usage::ClientAuth ? "client auth" : "server auth";
  if (std::find(info.ext_key_usages.begin(), info.ext_key_usages.end(), usage) == info.ext_key_usages.end()) {
    return reject("its extended key usage is [" + list(info.ext_key_usages) + "], which lacks " + usage);
  }
  if (info.is_ca) return reject(std::string("it is a CA certificate (basicConstraints CA:TRUE)"));

  const auto sans = all_sans(leaf);
  if (policy.usage == Usage::ClientAuth) {
    if (!sans.empty()) {
      return reject("it has subject alternative names [" + list(sans) +
                    "], but a client certificate must have no subject alternative names");
    }
  } else {
    if (sorted(info.dns_names) != sorted(policy.expected_dns)) {
      return reject("its DNS names are [" + list(info.dns_names) + "], requested [" +
                    list(policy.expected_dns) + "]");
    }
    std::vector<std::string> expected_ips;
    for (const auto& ip : policy.expected_ips) expected_ips.push_back(canonical_ip(ip));
    if (sorted(info.ip_addresses) != sorted(expected_ips)) {
      return reject("its IP addresses are [" + list(info.ip_addresses) + "], requested [" +
                    list(policy.expected_ips) + "]");
    }
    if (info.dns_names.size() + info.ip_addresses.size() != sans.size()) {
      return reject("it has subject alternative names that were not requested: [" + list(sans) + "]");
    }
  }

  if (info.not_before > policy.now + policy.clock_skew) {
    return reject("it is not valid yet (notBefore " + to_rfc3339(info.not_before) + ", now " +
                  to_rfc3339(policy.now) + "; is this node's clock behind?)");
  }
  if (info.not_after <= policy.now) {
    return reject("it has expired (notAfter " + to_rfc3339(info.not_after) + ", now " +
                  to_rfc3339(policy.now) + ")");
  }

  if (policy.trust_anchors.empty()) {
    return reject(std::string("it cannot be checked: no cluster CA certificate to verify it against"));
  }
  // Validity was judged above with our skew tolerance; the chain is checked at a moment
  // inside the leaf's validity (now, or its notBefore when that is still a few minutes
  // ahead) so that X509_verify_cert judges only signatures and CA constraints.
  const SysTime check_at = std::max(policy.now, info.not_before);
  if (auto why = verify_chain(chain, policy.trust_anchors, check_at); !why.empty()) {
    return reject("it does not chain to the cluster CA: " + why + " (issuer " + info.issuer + ")");
  }
  return info;
}

}  // namespace kcd::rotation
