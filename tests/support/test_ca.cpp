#include "tests/support/test_ca.hpp"

#include "rotation/certificate.hpp"
#include "rotation/key.hpp"

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <map>
#include <stdexcept>

namespace kcd::testing {

namespace {

using namespace std::chrono_literals;

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ossl::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  ossl::check(ext != nullptr, "X509V3_EXT_conf_nid", value);
  ossl::check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext", value);
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "," : "") + parts[i];
  return out;
}

// Kubernetes usage spelling -> the short names X509V3_EXT_conf understands.
std::string eku_short(const std::string& k8s) {
  static const std::map<std::string, std::string> kNames = {{"client auth", "clientAuth"},
                                                            {"server auth", "serverAuth"},
                                                            {"code signing", "codeSigning"},
                                                            {"email protection", "emailProtection"},
                                                            {"timestamping", "timeStamping"},
                                                            {"ocsp signing", "OCSPSigning"},
                                                            {"ipsec end system", "ipsecEndSystem"},
                                                            {"ipsec tunnel", "ipsecTunnel"},
                                                            {"ipsec user", "ipsecUser"},
                                                            {"microsoft sgc", "msSGC"},
                                                            {"netscape sgc", "nsSGC"},
                                                            {"any", "anyExtendedKeyUsage"}};
  const auto it = kNames.find(k8s);
  return it != kNames.end() ? it->second : k8s;  // anything else: an OID or OpenSSL name as given
}

std::string ku_short(const std::string& k8s) {
  static const std::map<std::string, std::string> kNames = {{"digital signature", "digitalSignature"},
                                                            {"content commitment", "nonRepudiation"},
                                                            {"key encipherment", "keyEncipherment"},
                                                            {"data encipherment", "dataEncipherment"},
                                                            {"key agreement", "keyAgreement"},
                                                            {"cert sign", "keyCertSign"},
                                                            {"crl sign", "cRLSign"},
                                                            {"encipher only", "encipherOnly"},
                                                            {"decipher only", "decipherOnly"}};
  const auto it = kNames.find(k8s);
  if (it == kNames.end()) throw std::invalid_argument("CertSpec: unknown key usage \"" + k8s + "\"");
  return it->second;
}

void set_time(ASN1_TIME* field, SysTime t) {
  ossl::check(ASN1_TIME_set(field, std::chrono::system_clock::to_time_t(t)) != nullptr, "ASN1_TIME_set");
}

void add_name_entry(X509_NAME* name, const std::string& field, const std::string& value) {
  ossl::check(X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(value.data()),
                                         static_cast<int>(value.size()), -1, 0) == 1,
              "X509_NAME_add_entry_by_txt", field);
}

ossl::X509Ptr build(EVP_PKEY* pub, const CertSpec& spec, X509* issuer_cert, EVP_PKEY* issuer_key) {
  ossl::X509Ptr cert(X509_new());
  ossl::check(cert != nullptr, "X509_new");
  ossl::check(X509_set_version(cert.get(), 2) == 1, "X509_set_version");
  ossl::BignumPtr serial(BN_new());
  ossl::check(serial != nullptr, "BN_new");
  if (spec.serial_hex) {
    BIGNUM* bn = serial.release();
    const int digits = BN_hex2bn(&bn, spec.serial_hex->c_str());
    serial.reset(bn);
    ossl::check(digits > 0 && static_cast<std::size_t>(digits) == spec.serial_hex->size(), "BN_hex2bn",
                *spec.serial_hex);
  } else {
    // 128 random bits, as Go's certificate signers use.
    ossl::check(BN_rand(serial.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1, "BN_rand");
  }
  ossl::check(BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr,
              "BN_to_ASN1_INTEGER");
  set_time(X509_getm_notBefore(cert.get()), spec.not_before);
  set_time(X509_getm_notAfter(cert.get()), spec.not_after);
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& o : spec.subject.organizations) add_name_entry(name, "O", o);
  for (const auto& f : spec.extra_subject_fields) {
    const auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw std::invalid_argument("CertSpec: extra subject field \"" + f +
                                  "\" is not of the form FIELD=value");
    }
    add_name_entry(name, f.substr(0, eq), f.substr(eq + 1));
  }
  if (!spec.subject.common_name.empty()) add_name_entry(name, "CN", spec.subject.common_name);
  ossl::check(X509_set_issuer_name(cert.get(),
                                   issuer_cert != nullptr ? X509_get_subject_name(issuer_cert) : name) == 1,
              "X509_set_issuer_name");
  ossl::check(X509_set_pubkey(cert.get(), pub) == 1, "X509_set_pubkey");

  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  if (!spec.omit_basic_constraints)
    add_ext(cert.get(), issuer, NID_basic_constraints, spec.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  if (!spec.key_usages.empty()) {
    std::vector<std::string> ku;
    for (const auto& k : spec.key_usages) ku.push_back(ku_short(k));
    add_ext(cert.get(), issuer, NID_key_usage, "critical," + join(ku));
  }
  if (!spec.ext_key_usages.empty()) {
    std::vector<std::string> eku;
    for (const auto& k : spec.ext_key_usages) eku.push_back(eku_short(k));
    add_ext(cert.get(), issuer, NID_ext_key_usage, join(eku));
  }
  add_ext(cert.get(), issuer, NID_subject_key_identifier, "hash");
  if (issuer_cert != nullptr) add_ext(cert.get(), issuer, NID_authority_key_identifier, "keyid:always");
  std::vector<std::string> sans;
  for (const auto& d : spec.dns_names) sans.push_back("DNS:" + d);
  for (const auto& ip : spec.ip_addresses) sans.push_back("IP:" + ip);
  for (const auto& e : spec.email_addresses) sans.push_back("email:" + e);
  for (const auto& u : spec.uris) sans.push_back("URI:" + u);
  if (!sans.empty()) add_ext(cert.get(), issuer, NID_subject_alt_name, join(sans));

  ossl::check(X509_sign(cert.get(), issuer_key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

}  // namespace

std::string to_pem(X509* cert) {
  return rotation::certificate_to_pem(cert);
}

TestCa TestCa::create_root(const std::string& cn, KeyAlgorithm algorithm, std::chrono::hours validity) {
  auto key = rotation::generate_key(algorithm);
  CertSpec spec;
  spec.subject.common_name = cn;
  spec.is_ca = true;
  spec.key_usages = {"digital signature", "key encipherment", "cert sign"};
  const auto now = std::chrono::system_clock::now();
  spec.not_before = now - 1h;
  spec.not_after = now + validity;
  auto cert = build(key.get(), spec, nullptr, key.get());
  return TestCa(std::move(cert), std::move(key));
}

TestCa TestCa::load(std::string_view cert_pem, std::string_view key_pem) {
  auto certs = rotation::parse_certificates_pem(cert_pem, "CA certificate");
  if (!certs) throw std::runtime_error(certs.error().format());
  auto key = rotation::load_private_key_pem(key_pem, "CA key");
  if (!key) throw std::runtime_error(key.error().format());
  if (!rotation::same_public_key(X509_get0_pubkey(certs->front().get()), key->get())) {
    throw std::runtime_error("CA key does not belong to the CA certificate");
  }
  return TestCa(std::move(certs->front()), std::move(*key));
}

TestCa TestCa::create_intermediate(const std::string& cn) const {
  auto key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
  CertSpec spec;
  spec.subject.common_name = cn;
  spec.is_ca = true;
  spec.key_usages = {"digital signature", "cert sign"};
  const auto now = std::chrono::system_clock::now();
  spec.not_before = now - 1h;
  spec.not_after = now + 24h * 365;
  auto cert = build(key.get(), spec, cert_.get(), key_.get());
  return TestCa(std::move(cert), std::move(key));
}

std::string TestCa::cert_pem() const {
  return to_pem(cert_.get());
}
std::string TestCa::key_pem() const {
  return rotation::private_key_to_pem(key_.get());
}

ossl::X509Ptr TestCa::issue(EVP_PKEY* subject_public_key, const CertSpec& spec) const {
  return build(subject_public_key, spec, cert_.get(), key_.get());
}

ossl::X509Ptr TestCa::issue_server(EVP_PKEY* key, const std::vector<std::string>& extra_dns) const {
  CertSpec spec;
  spec.subject.common_name = "kube-apiserver";
  spec.dns_names = {"localhost"};
  spec.dns_names.insert(spec.dns_names.end(), extra_dns.begin(), extra_dns.end());
  spec.ip_addresses = {"127.0.0.1", "::1"};
  spec.ext_key_usages = {"server auth"};
  spec.key_usages = {"digital signature", "key encipherment"};
  const auto now = std::chrono::system_clock::now();
  spec.not_before = now - 1h;
  spec.not_after = now + 24h * 365;
  return issue(key, spec);
}

}  // namespace kcd::testing
