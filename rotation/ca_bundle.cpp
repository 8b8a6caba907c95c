#include "rotation/ca_bundle.hpp"

#include "base/outside_text.hpp"
#include "base/rfc3339.hpp"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>

namespace kcd::rotation {

namespace {

constexpr std::string_view kBegin = "-----BEGIN ";

Unexpected<Error> refuse(std::string_view source, std::string why) {
  return Unexpected(
      make_error(ErrorKind::Refused, std::string(source) + ": " + why + "; nothing was written from it"));
}

// The label of each PEM block ("CERTIFICATE", "PRIVATE KEY", ...), in order.
std::vector<std::string> block_labels(std::string_view pem, std::size_t max_blocks) {
  std::vector<std::string> labels;
  std::size_t at = 0;
  while ((at = pem.find(kBegin, at)) != std::string_view::npos) {
    at += kBegin.size();
    const auto end = pem.find("-----", at);
    // From outside: escaped, so a label can never put a control character into an error.
    labels.push_back(outside_text(pem.substr(at, std::min(end, pem.size()) - at), 40));
    if (labels.size() > max_blocks) break;
  }
  return labels;
}

// Same subject and public key: the CA renewed (its certificates still verify under it).
bool same_ca_key(X509* a_cert, X509* b_cert) {
  return X509_NAME_cmp(X509_get_subject_name(a_cert), X509_get_subject_name(b_cert)) == 0 &&
         EVP_PKEY_eq(X509_get0_pubkey(a_cert), X509_get0_pubkey(b_cert)) == 1;
}

bool signed_by(X509* cert, X509* ca) {
  if (X509_check_issued(ca, cert) != X509_V_OK) return false;
  EVP_PKEY* key = X509_get0_pubkey(ca);
  const bool ok = key != nullptr && X509_verify(cert, key) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

bool CaBundle::contains(const CertInfo& c) const {
  return std::any_of(info.begin(), info.end(),
                     [&](const CertInfo& i) { return i.sha256_fingerprint == c.sha256_fingerprint; });
}

std::vector<X509*> CaBundle::anchors() const {
  std::vector<X509*> out;
  for (const auto& c : certs) out.push_back(c.get());
  return out;
}

std::string describe_ca(const CertInfo& ca) {
  std::string subject =
      ca.common_name.empty() ? std::string("(no CN)") : "CN=" + outside_text(ca.common_name, 64);
  return subject + " (sha256 " + ca.sha256_fingerprint.substr(0, 8) + ")";
}

Expected<CaBundle> check_ca_bundle(std::string_view pem, std::string_view source, SysTime now) {
  const auto labels = block_labels(pem, kMaxBundleCertificates);
  if (labels.empty()) return refuse(source, "the CA bundle holds no PEM certificate");
  if (labels.size() > kMaxBundleCertificates)
    return refuse(source,
                  "the CA bundle holds more than " + std::to_string(kMaxBundleCertificates) + " PEM blocks");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != "CERTIFICATE")
      return refuse(source, "PEM block " + std::to_string(i + 1) + " of the CA bundle is a \"" + labels[i] +
                                "\", not a CERTIFICATE: a CA bundle holds CA certificates only");
  }
  auto parsed = parse_certificates_pem(pem, source, kMaxBundleCertificates);
  if (!parsed) return refuse(source, "the CA bundle does not parse: " + parsed.error().message);
  if (parsed->size() != labels.size())
    return refuse(source, "the CA bundle has " + std::to_string(labels.size()) +
                              " CERTIFICATE blocks, of which " + std::to_string(parsed->size()) + " parse");
  CaBundle bundle;
  for (std::size_t i = 0; i < parsed->size(); ++i) {
    CertInfo info = inspect_certificate((*parsed)[i].get());
    const std::string which = "certificate " + std::to_string(i + 1) + " of " +
                              std::to_string(parsed->size()) + " in the CA bundle, " + describe_ca(info) +
                              ",";
    if (!info.is_ca)
      return refuse(source, which +
                                " is not a CA (no basicConstraints CA:TRUE): a CA bundle holds CA "
                                "certificates only; remove it from the bundle");
    if (now < info.not_before)
      return refuse(source, which + " is not valid before " + to_rfc3339(info.not_before) +
                                " (check this node's clock)");
    if (now >= info.not_after)
      return refuse(source, which + " expired on " + to_rfc3339(info.not_after) +
                                "; remove it from the bundle, or renew the CA");
    bundle.pem += certificate_to_pem((*parsed)[i].get());
    bundle.info.push_back(std::move(info));
  }
  bundle.certs = std::move(*parsed);
  return bundle;
}

BundleChange assess_bundle_change(const CaBundle& trusted, const CaBundle& published) {
  BundleChange change;
  for (const auto& ca : published.info) {
    if (trusted.contains(ca)) continue;
    change.added.push_back(describe_ca(ca));
    change.added_sha256.push_back(ca.sha256_fingerprint);
  }
  bool continuity = false;  // some CA the node trusts today stays (or is renewed) in `published`
  for (std::size_t i = 0; i < trusted.info.size(); ++i) {
    if (published.contains(trusted.info[i])) {
      continuity = true;
      continue;
    }
    bool renewed = false;
    for (std::size_t j = 0; j < published.info.size() && !renewed; ++j)
      renewed = same_ca_key(trusted.certs[i].get(), published.certs[j].get());
    if (renewed) {
      continuity = true;
    } else {
      change.dropped.push_back(describe_ca(trusted.info[i]));
      change.dropped_sha256.push_back(trusted.info[i].sha256_fingerprint);
    }
  }
  if (change.added.empty() && change.dropped.empty() && trusted.info.size() == published.info.size()) {
    // Also a renewal in place changes fingerprints: only an identical set is the same.
    bool identical = true;
    for (const auto& ca : published.info) identical = identical && trusted.contains(ca);
    if (identical) return change;
  }
  if (!continuity) {
    change.verdict = BundleChange::Verdict::Refuse;
    change.why =
        "the published bundle shares no CA with the one this node trusts: a CA replaced at once is not "
        "followed (the kubelet could not verify the API server in between); publish the old and the new CA "
        "together first, as kubeadm's CA rotation procedure does";
    return change;
  }
  change.verdict = BundleChange::Verdict::Follow;
  return change;
}

bool issued_by(const std::vector<ossl::X509Ptr>& chain, const std::vector<X509*>& cas) {
  if (chain.empty()) return false;
  // Walk leaf -> intermediates: the first link any CA signed ends the walk.
  for (std::size_t i = 0; i < chain.size(); ++i) {
    for (X509* ca : cas)
      if (signed_by(chain[i].get(), ca)) return true;
    if (i + 1 < chain.size() && !signed_by(chain[i].get(), chain[i + 1].get())) return false;
  }
  return false;
}

}  // namespace kcd::rotation
