#include "rotation/certificate.hpp"

#include "base/rfc3339.hpp"
#include "rotation/key.hpp"

#include <openssl/objects.h>
#include <openssl/pem.h>

#include <array>
#include <cctype>
#include <ctime>

namespace kcd::rotation {

namespace {

SysTime to_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return SysTime{};
  }
  return sys_time_from_seconds(timegm(&tm));
}

std::string one_line_name(const X509_NAME* name) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(bio != nullptr, "BIO_new");
  // RFC 2253 order (most specific first, "CN=...,O=..."), UTF-8 left unescaped for humans.
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    ERR_clear_error();
    return {};
  }
  return ossl::bio_to_string(bio.get());
}

std::string hex(const unsigned char* data, std::size_t len) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (std::size_t i = 0; i < len; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

// Like Go's big.Int.Text(16): lowercase, no leading zeros, "-" for the (invalid but
// parseable) negative serials.
std::string serial_hex(const ASN1_INTEGER* serial) {
  ossl::BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) {
    ERR_clear_error();
    return {};
  }
  char* h = BN_bn2hex(bn.get());
  if (h == nullptr) {
    ERR_clear_error();
    return {};
  }
  std::string text(h);
  OPENSSL_free(h);
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.erase(0, 1);
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto first = text.find_first_not_of('0');
  text = first == std::string::npos ? "0" : text.substr(first);
  return negative ? "-" + text : text;
}

// certificates.k8s.io/v1 KeyUsage spelling of the extended key usages.
std::string eku_name(const ASN1_OBJECT* obj) {
  switch (OBJ_obj2nid(obj)) {
    case NID_client_auth:
      return "client auth";
    case NID_server_auth:
      return "server auth";
    case NID_code_sign:
      return "code signing";
    case NID_email_protect:
      return "email protection";
    case NID_ipsecEndSystem:
      return "ipsec end system";
    case NID_ipsecTunnel:
      return "ipsec tunnel";
    case NID_ipsecUser:
      return "ipsec user";
    case NID_time_stamp:
      return "timestamping";
    case NID_OCSP_sign:
      return "ocsp signing";
    case NID_ms_sgc:
      return "microsoft sgc";
    case NID_ns_sgc:
      return "netscape sgc";
    case NID_anyExtendedKeyUsage:
      return "any";
    default: {
      // No Kubernetes name: the dotted OID, so status output still says what it is.
      std::array<char, 80> oid{};
      OBJ_obj2txt(oid.data(), static_cast<int>(oid.size()), obj, 1);
      return oid.data();
    }
  }
}

std::vector<std::string> key_usage_names(uint32_t ku) {
  static constexpr std::array<std::pair<uint32_t, std::string_view>, 9> kNames = {{
      {KU_DIGITAL_SIGNATURE, "digital signature"},
      {KU_NON_REPUDIATION, "content commitment"},
      {KU_KEY_ENCIPHERMENT, "key encipherment"},
      {KU_DATA_ENCIPHERMENT, "data encipherment"},
      {KU_KEY_AGREEMENT, "key agreement"},
      {KU_KEY_CERT_SIGN, "cert sign"},
      {KU_CRL_SIGN, "crl sign"},
      {KU_ENCIPHER_ONLY, "encipher only"},
      {KU_DECIPHER_ONLY, "decipher only"},
  }};
  std::vector<std::string> out;
  for (const auto& [bit, name] : kNames) {
    if ((ku & bit) != 0) out.emplace_back(name);
  }
  return out;
}

}  // namespace

Expected<std::vector<ossl::X509Ptr>> parse_certificates_pem(std::string_view pem, std::string_view source,
                                                            std::size_t max_certificates) {
  std::vector<ossl::X509Ptr> out;
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::size_t pos = 0;
  while ((pos = pem.find(kBegin, pos)) != std::string_view::npos) {
    if (out.size() == max_certificates) {
      return Unexpected(make_error(
          ErrorKind::Corrupt,
          std::string(source) + ": more than " + std::to_string(max_certificates) +
              " certificates (the limit for " +
              (max_certificates == kMaxChainCertificates ? "a certificate chain" : "a CA bundle") + ")"));
    }
    std::size_t end = pem.find(kEnd, pos);
    if (end == std::string_view::npos) {
      return Unexpected(make_error(ErrorKind::Corrupt, std::string(source) + ": certificate " +
                                                           std::to_string(out.size() + 1) +
                                                           " has no \"-----END CERTIFICATE-----\" line"));
    }
    end += kEnd.size();
    ERR_clear_error();
    auto bio = ossl::mem_bio(pem.substr(pos, end - pos));
    ossl::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      return Unexpected(make_error(ErrorKind::Corrupt, std::string(source) + ": certificate " +
                                                           std::to_string(out.size() + 1) +
                                                           " does not parse: " + ossl::drain_errors()));
    }
    out.push_back(std::move(cert));
    pos = end;
  }
  if (out.empty())
    return Unexpected(
        make_error(ErrorKind::Corrupt, std::string(source) + ": no PEM CERTIFICATE block found"));
  return out;
}

std::string certificate_to_pem(X509* cert) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(bio != nullptr, "BIO_new");
  ossl::check(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
  return ossl::bio_to_string(bio.get());
}

CertInfo inspect_certificate(X509* cert) {
  CertInfo info;
  const X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(subject, i);
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    if (nid == NID_commonName && info.common_name.empty())
      info.common_name = ossl::asn1_to_utf8(X509_NAME_ENTRY_get_data(e));
    if (nid == NID_organizationName)
      info.organizations.push_back(ossl::asn1_to_utf8(X509_NAME_ENTRY_get_data(e)));
  }
  const X509_NAME* issuer = X509_get_issuer_name(cert);
  info.issuer = one_line_name(issuer);
  const int cn_idx = X509_NAME_get_index_by_NID(issuer, NID_commonName, -1);
  if (cn_idx >= 0)
    info.issuer_common_name =
        ossl::asn1_to_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(issuer, cn_idx)));

  info.serial = serial_hex(X509_get0_serialNumber(cert));
  if (EVP_PKEY* pub = X509_get0_pubkey(cert)) info.key_algorithm = describe_key(pub);
  info.not_before = to_time(X509_get0_notBefore(cert));
  info.not_after = to_time(X509_get0_notAfter(cert));
  // basicConstraints CA:TRUE, whatever keyUsage says (X509_check_ca would also count a
  // keyCertSign usage or a v1 self-signed certificate as a CA).
  info.is_ca = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;

  ossl::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
      if (gn->type == GEN_DNS) info.dns_names.push_back(ossl::asn1_to_utf8(gn->d.dNSName));
      if (gn->type == GEN_IPADD) info.ip_addresses.push_back(ossl::ip_to_text(gn->d.iPAddress));
    }
  }
  ossl::ExtKeyUsagePtr eku(
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  if (eku) {
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i)
      info.ext_key_usages.push_back(eku_name(sk_ASN1_OBJECT_value(eku.get(), i)));
  }
  // UINT32_MAX means "no keyUsage extension", which is not the same as "no usage".
  if (const uint32_t ku = X509_get_key_usage(cert); ku != UINT32_MAX) info.key_usages = key_usage_names(ku);

  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md.data(), &len) == 1) info.sha256_fingerprint = hex(md.data(), len);
  ERR_clear_error();
  return info;
}

}  // namespace kcd::rotation
