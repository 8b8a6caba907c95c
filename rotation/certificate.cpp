#include "rotation/certificate.hpp"

#include "rotation/key.hpp"

#include <arpa/inet.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <cctype>
#include <ctime>

namespace kcd::rotation {

namespace {



SysTime to_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return SysTime{};
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string one_line_name(const X509_NAME* name) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return ossl::bio_to_string(bio.get());
}

std::string hex(const unsigned char* data, std::size_t len) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < len; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xf];
  }
  return out;
}

std::string eku_name(int nid) {
  switch (nid) {
    case NID_client_auth: return "client auth";
    case NID_server_auth: return "server auth";
    case NID_code_sign: return "code signing";
    case NID_email_protect: return "email protection";
    case NID_time_stamp: return "timestamping";
    case NID_OCSP_sign: return "ocsp signing";
    case NID_anyExtendedKeyUsage: return "any";
    default: {
      const char* sn = OBJ_nid2sn(nid);
      return sn != nullptr ? sn : "unknown";
    }
  }
}

}  // namespace

Expected<std::vector<ossl::X509Ptr>, std::string> parse_certificates_pem(std::string_view pem, std::string_view source) {
  std::vector<ossl::X509Ptr> out;
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::size_t pos = 0;
  while ((pos = pem.find(kBegin, pos)) != std::string_view::npos) {
    std::size_t end = pem.find(kEnd, pos);
    if (end == std::string_view::npos) {
      return Unexpected(std::string(source) + ": certificate " + std::to_string(out.size() + 1) + " has no END line");
    }
    end += kEnd.size();
    auto bio = ossl::mem_bio(pem.substr(pos, end - pos));
    ossl::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      return Unexpected(std::string(source) + ": certificate " + std::to_string(out.size() + 1) +
                        " does not parse: " + ossl::drain_errors());
    }
    out.push_back(std::move(cert));
    pos = end;
  }
  if (out.empty()) return Unexpected(std::string(source) + ": no PEM CERTIFICATE found");
  return out;
}

std::string certificate_to_pem(X509* cert) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(bio != nullptr && PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
  return ossl::bio_to_string(bio.get());
}

CertInfo inspect_certificate(X509* cert) {
  CertInfo info;
  const X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(subject, i);
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    if (nid == NID_commonName && info.common_name.empty()) info.common_name = ossl::asn1_to_utf8(X509_NAME_ENTRY_get_data(e));
    if (nid == NID_organizationName) info.organizations.push_back(ossl::asn1_to_utf8(X509_NAME_ENTRY_get_data(e)));
  }
  const X509_NAME* issuer = X509_get_issuer_name(cert);
  info.issuer = one_line_name(issuer);
  const int cn_idx = X509_NAME_get_index_by_NID(issuer, NID_commonName, -1);
  if (cn_idx >= 0) info.issuer_common_name = ossl::asn1_to_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(issuer, cn_idx)));

  ossl::BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (serial) {
    char* h = BN_bn2hex(serial.get());
    if (h != nullptr) {
      info.serial = h;
      OPENSSL_free(h);
      for (auto& c : info.serial) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto first = info.serial.find_first_not_of('0');
      info.serial = first == std::string::npos ? "0" : info.serial.substr(first);
    }
  }
  if (EVP_PKEY* pub = X509_get0_pubkey(cert)) info.key_algorithm = describe_key(pub);
  info.not_before = to_time(X509_get0_notBefore(cert));
  info.not_after = to_time(X509_get0_notAfter(cert));
  // basicConstraints CA:TRUE, whatever keyUsage says (X509_check_ca would also demand keyCertSign).
  info.is_ca = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;

  ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
      if (gn->type == GEN_DNS) info.dns_names.push_back(ossl::asn1_to_utf8(gn->d.dNSName));
      if (gn->type == GEN_IPADD) info.ip_addresses.push_back(ossl::ip_to_text(gn->d.iPAddress));
    }
  }
  ossl::ExtKeyUsagePtr eku(static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  if (eku) {
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) info.ext_key_usages.push_back(eku_name(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i))));
  }
  const uint32_t ku = X509_get_key_usage(cert);
  if (ku != UINT32_MAX) {
    if (ku & KU_DIGITAL_SIGNATURE) info.key_usages.push_back("digital signature");
    if (ku & KU_NON_REPUDIATION) info.key_usages.push_back("content commitment");
    if (ku & KU_KEY_ENCIPHERMENT) info.key_usages.push_back("key encipherment");
    if (ku & KU_DATA_ENCIPHERMENT) info.key_usages.push_back("data encipherment");
    if (ku & KU_KEY_AGREEMENT) info.key_usages.push_back("key agreement");
    if (ku & KU_KEY_CERT_SIGN) info.key_usages.push_back("cert sign");
    if (ku & KU_CRL_SIGN) info.key_usages.push_back("crl sign");
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) == 1) info.sha256_fingerprint = hex(md, len);
  ERR_clear_error();
  return info;
}

}  // namespace kcd::rotation
