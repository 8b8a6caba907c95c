#include "rotation/csr.hpp"

#include <arpa/inet.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <array>
#include <stdexcept>

namespace kcd::rotation {

namespace {

using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, ossl::Deleter<GENERAL_NAME_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, ossl::Deleter<ASN1_STRING_free>>;

struct ExtensionStackFree {
  void operator()(STACK_OF(X509_EXTENSION) * s) const noexcept {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
  }
};
using ExtensionStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionStackFree>;

// Textual IP -> the 4 or 16 octets a SAN carries (IPv4 as 4 octets, as Go's x509 writes it).
Error corrupt(std::string why) {
  return make_error(ErrorKind::Corrupt, std::move(why));
}

// nullopt when `text` is neither an IPv4 nor an IPv6 address.
std::optional<std::string> ip_octets(const std::string& text) {
  std::array<unsigned char, 16> buf{};
  if (inet_pton(AF_INET, text.c_str(), buf.data()) == 1)
    return std::string(reinterpret_cast<char*>(buf.data()), 4);
  if (inet_pton(AF_INET6, text.c_str(), buf.data()) == 1)
    return std::string(reinterpret_cast<char*>(buf.data()), 16);
  return std::nullopt;
}

void add_entry(X509_NAME* name, const char* field, const std::string& value) {
  ossl::check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(value.data()),
                                         static_cast<int>(value.size()), -1, 0) == 1,
              "X509_NAME_add_entry_by_txt", std::string(field) + "=" + value);
}

// The signature digest Go's x509.CreateCertificateRequest picks: SHA-384 for P-384,
// SHA-256 for P-256 and RSA; none for the EdDSA family (the algorithm hashes itself).
const EVP_MD* digest_for(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) >= 384) return EVP_sha384();
  if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) return nullptr;
  return EVP_sha256();
}

void push_name(GENERAL_NAMES* names, int type, std::string_view value, const std::string& what) {
  GeneralNamePtr gn(GENERAL_NAME_new());
  ossl::check(gn != nullptr, "GENERAL_NAME_new", what);
  Asn1StringPtr s(ASN1_STRING_type_new(type == GEN_DNS ? V_ASN1_IA5STRING : V_ASN1_OCTET_STRING));
  ossl::check(s != nullptr, "ASN1_STRING_type_new", what);
  ossl::check(ASN1_STRING_set(s.get(), value.data(), static_cast<int>(value.size())) == 1, "ASN1_STRING_set",
              what);
  GENERAL_NAME_set0_value(gn.get(), type, s.release());
  ossl::check(sk_GENERAL_NAME_push(names, gn.get()) > 0, "sk_GENERAL_NAME_push", what);
  gn.release();  // now owned by `names`
}

Expected<void> add_subject_alt_names(X509_REQ* req, const CsrRequest& request) {
  ossl::GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  ossl::check(names != nullptr, "sk_GENERAL_NAME_new_null");
  for (const auto& dns : request.dns_names) push_name(names.get(), GEN_DNS, dns, "DNS:" + dns);
  for (const auto& ip : request.ip_addresses) {
    auto octets = ip_octets(ip);
    if (!octets) {
      return Unexpected(make_error(ErrorKind::Config,
                                   "subjectAltName IP address \"" + ip + "\" is not an IPv4 or IPv6 address",
                                   Location{{}, 0, 0, "servingIPs"}));
    }
    push_name(names.get(), GEN_IPADD, *octets, "IP:" + ip);
  }

  ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
  ossl::check(exts != nullptr, "sk_X509_EXTENSION_new_null");
  // Not critical: Go's x509 marks a SAN critical only when the subject is empty.
  ossl::X509ExtPtr ext(X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get()));
  ossl::check(ext != nullptr, "X509V3_EXT_i2d", "subjectAltName");
  ossl::check(sk_X509_EXTENSION_push(exts.get(), ext.get()) > 0, "sk_X509_EXTENSION_push");
  ext.release();  // now owned by `exts`
  ossl::check(X509_REQ_add_extensions(req, exts.get()) == 1, "X509_REQ_add_extensions");
  return {};
}

// Appends the SANs of `ext` to `out`; false when the extension does not parse.
bool read_subject_alt_names(X509_EXTENSION* ext, ParsedCsr& out) {
  ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
  if (!names) return false;
  for (int k = 0; k < sk_GENERAL_NAME_num(names.get()); ++k) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), k);
    switch (gn->type) {
      case GEN_DNS:
        out.dns_names.push_back(ossl::asn1_to_utf8(gn->d.dNSName));
        break;
      case GEN_IPADD:
        out.ip_addresses.push_back(ossl::ip_to_text(gn->d.iPAddress));
        break;
      case GEN_EMAIL:
        out.email_addresses.push_back(ossl::asn1_to_utf8(gn->d.rfc822Name));
        break;
      case GEN_URI:
        out.uris.push_back(ossl::asn1_to_utf8(gn->d.uniformResourceIdentifier));
        break;
      default:
        break;  // otherName, directoryName, ...: nothing Kubernetes signers act on
    }
  }
  return true;
}

}  // namespace

Expected<std::string> build_csr_pem(EVP_PKEY* key, const CsrRequest& request) {
  ossl::X509ReqPtr req(X509_REQ_new());
  ossl::check(req != nullptr, "X509_REQ_new");
  ossl::check(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) == 1, "X509_REQ_set_version");
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  // Go's pkix.Name.ToRDNSequence (and so kubelet) encodes O before CN.
  for (const auto& o : request.subject.organizations) add_entry(name, "O", o);
  add_entry(name, "CN", request.subject.common_name);
  ossl::check(X509_REQ_set_pubkey(req.get(), key) == 1, "X509_REQ_set_pubkey");

  // Client requests carry no extension request at all, exactly like kubelet's.
  if (!request.dns_names.empty() || !request.ip_addresses.empty()) {
    if (auto added = add_subject_alt_names(req.get(), request); !added) return Unexpected(added.error());
  }

  ossl::check(X509_REQ_sign(req.get(), key, digest_for(key)) > 0, "X509_REQ_sign",
              request.subject.common_name);
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(bio != nullptr, "BIO_new");
  ossl::check(PEM_write_bio_X509_REQ(bio.get(), req.get()) == 1, "PEM_write_bio_X509_REQ");
  return ossl::bio_to_string(bio.get());
}

Expected<ParsedCsr> parse_csr_pem(std::string_view pem) {
  if (pem.find("-----BEGIN CERTIFICATE REQUEST-----") == std::string_view::npos) {
    return Unexpected(corrupt(
        std::string("not a PEM CERTIFICATE REQUEST (no \"-----BEGIN CERTIFICATE REQUEST-----\" line)")));
  }
  ERR_clear_error();
  auto bio = ossl::mem_bio(pem);
  ossl::X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return Unexpected(corrupt("the CERTIFICATE REQUEST does not parse: " + ossl::drain_errors()));

  ParsedCsr out;
  out.public_key.reset(X509_REQ_get_pubkey(req.get()));
  if (!out.public_key)
    return Unexpected(corrupt("the CERTIFICATE REQUEST has no usable public key: " + ossl::drain_errors()));
  out.signature_valid = X509_REQ_verify(req.get(), out.public_key.get()) == 1;
  ERR_clear_error();

  const X509_NAME* name = X509_REQ_get_subject_name(req.get());
  bool seen_cn = false;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    const std::string value = ossl::asn1_to_utf8(X509_NAME_ENTRY_get_data(e));
    if (nid == NID_commonName && !seen_cn) {
      seen_cn = true;
      out.subject.common_name = value;
    } else if (nid == NID_organizationName) {
      out.subject.organizations.push_back(value);
    } else {
      // A second CN is reported too: Go keeps only one, so a signer would silently drop it.
      std::array<char, 80> oid{};
      const char* sn = nid != NID_undef ? OBJ_nid2sn(nid) : nullptr;
      if (sn == nullptr) {
        OBJ_obj2txt(oid.data(), static_cast<int>(oid.size()), X509_NAME_ENTRY_get_object(e), 1);
        sn = oid.data();
      }
      out.other_subject_fields.push_back(std::string(sn) + "=" + value);
    }
  }

  ExtensionStackPtr exts(X509_REQ_get_extensions(req.get()));
  if (exts) {
    for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
      if (!read_subject_alt_names(ext, out)) {
        return Unexpected(corrupt("the CERTIFICATE REQUEST's subjectAltName extension does not parse: " +
                                  ossl::drain_errors()));
      }
    }
  }
  ERR_clear_error();
  return out;
}

}  // namespace kcd::rotation
