#include "rotation/csr.hpp"

#include <arpa/inet.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <stdexcept>

namespace kcd::rotation {

namespace {

// Textual IP -> the 4 or 16 octets a SAN carries.
std::string ip_octets(const std::string& text) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 4);
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 16);
  throw std::invalid_argument("\"" + text + "\" is not an IPv4 or IPv6 address");
}



void add_entry(X509_NAME* name, const char* field, const std::string& value) {
  ossl::check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
                                         static_cast<int>(value.size()), -1, 0) == 1,
              "X509_NAME_add_entry_by_txt", field);
}

const EVP_MD* digest_for(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) >= 384) return EVP_sha384();
  if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) return nullptr;
  return EVP_sha256();
}

}  // namespace

std::string build_csr_pem(EVP_PKEY* key, const CsrRequest& request) {
  ossl::X509ReqPtr req(X509_REQ_new());
  ossl::check(req != nullptr, "X509_REQ_new");
  ossl::check(X509_REQ_set_version(req.get(), 0) == 1, "X509_REQ_set_version");
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  // Go's pkix.Name (and so kubelet) encodes O before CN.
  for (const auto& o : request.subject.organizations) add_entry(name, "O", o);
  add_entry(name, "CN", request.subject.common_name);
  ossl::check(X509_REQ_set_pubkey(req.get(), key) == 1, "X509_REQ_set_pubkey");

  if (!request.dns_names.empty() || !request.ip_addresses.empty()) {
    ossl::GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
    ossl::check(names != nullptr, "sk_GENERAL_NAME_new_null");
    for (const auto& dns : request.dns_names) {
      GENERAL_NAME* gn = GENERAL_NAME_new();
      ASN1_IA5STRING* s = ASN1_IA5STRING_new();
      ossl::check(gn != nullptr && s != nullptr && ASN1_STRING_set(s, dns.data(), static_cast<int>(dns.size())) == 1,
                  "GENERAL_NAME(DNS)", dns);
      GENERAL_NAME_set0_value(gn, GEN_DNS, s);
      sk_GENERAL_NAME_push(names.get(), gn);
    }
    for (const auto& ip : request.ip_addresses) {
      const std::string octets = ip_octets(ip);
      GENERAL_NAME* gn = GENERAL_NAME_new();
      ASN1_OCTET_STRING* s = ASN1_OCTET_STRING_new();
      ossl::check(gn != nullptr && s != nullptr &&
                      ASN1_OCTET_STRING_set(s, reinterpret_cast<const unsigned char*>(octets.data()),
                                            static_cast<int>(octets.size())) == 1,
                  "GENERAL_NAME(IP)", ip);
      GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
      sk_GENERAL_NAME_push(names.get(), gn);
    }
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    ossl::check(exts != nullptr, "sk_X509_EXTENSION_new_null");
    X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get());
    if (ext == nullptr) {
      sk_X509_EXTENSION_free(exts);
      throw ossl::Error("X509V3_EXT_i2d(subjectAltName)");
    }
    sk_X509_EXTENSION_push(exts, ext);
    const int ok = X509_REQ_add_extensions(req.get(), exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ossl::check(ok == 1, "X509_REQ_add_extensions");
  }

  ossl::check(X509_REQ_sign(req.get(), key, digest_for(key)) > 0, "X509_REQ_sign");
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(bio != nullptr && PEM_write_bio_X509_REQ(bio.get(), req.get()) == 1, "PEM_write_bio_X509_REQ");
  return ossl::bio_to_string(bio.get());
}

Expected<ParsedCsr, std::string> parse_csr_pem(std::string_view pem) {
  if (pem.find("-----BEGIN CERTIFICATE REQUEST-----") == std::string_view::npos) {
    return Unexpected(std::string("not a PEM CERTIFICATE REQUEST"));
  }
  auto bio = ossl::mem_bio(pem);
  ossl::X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return Unexpected("cannot parse the CERTIFICATE REQUEST: " + ossl::drain_errors());

  ParsedCsr out;
  out.public_key.reset(X509_REQ_get_pubkey(req.get()));
  if (!out.public_key) return Unexpected("the request has no usable public key: " + ossl::drain_errors());
  out.signature_valid = X509_REQ_verify(req.get(), out.public_key.get()) == 1;
  ERR_clear_error();

  const X509_NAME* name = X509_REQ_get_subject_name(req.get());
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    const std::string value = ossl::asn1_to_utf8(X509_NAME_ENTRY_get_data(e));
    if (nid == NID_commonName) {
      if (!out.subject.common_name.empty()) out.other_subject_fields.push_back("CN=" + value);
      else out.subject.common_name = value;
    } else if (nid == NID_organizationName) {
      out.subject.organizations.push_back(value);
    } else {
      const char* sn = OBJ_nid2sn(nid);
      out.other_subject_fields.push_back(std::string(sn != nullptr ? sn : "?") + "=" + value);
    }
  }

  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req.get());
  if (exts != nullptr) {
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
      ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
      if (!names) continue;
      for (int k = 0; k < sk_GENERAL_NAME_num(names.get()); ++k) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), k);
        switch (gn->type) {
          case GEN_DNS: out.dns_names.push_back(ossl::asn1_to_utf8(gn->d.dNSName)); break;
          case GEN_IPADD: out.ip_addresses.push_back(ossl::ip_to_text(gn->d.iPAddress)); break;
          case GEN_EMAIL: out.email_addresses.push_back(ossl::asn1_to_utf8(gn->d.rfc822Name)); break;
          case GEN_URI: out.uris.push_back(ossl::asn1_to_utf8(gn->d.uniformResourceIdentifier)); break;
          default: break;
        }
      }
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  ERR_clear_error();
  return out;
}

}  // namespace kcd::rotation
