// CSRs: ours parsed back field by field with OpenSSL, compared byte for byte with the CSRs
// kubelet filed in the recordings, checked by `openssl req`; anyone's parsed safely.
#include "rotation/csr.hpp"

#include "rotation/key.hpp"
#include "tests/support/must.hpp"
#include "tests/support/subprocess.hpp"

#include <gtest/gtest.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <algorithm>
#include <fstream>
#include <functional>

namespace kcd::rotation {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = KCD_FIXTURES_DIR;

struct ExtensionStackFree {
  void operator()(STACK_OF(X509_EXTENSION) * s) const noexcept {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
  }
};
using ExtensionStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionStackFree>;

CsrRequest client_request(const std::string& node = "testnode1") {
  CsrRequest r;
  r.subject.common_name = "system:node:" + node;
  r.subject.organizations = {"system:nodes"};
  return r;
}

ossl::X509ReqPtr read_req(const std::string& pem) {
  auto bio = ossl::mem_bio(pem);
  ossl::X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) throw ossl::CallFailed("PEM_read_bio_X509_REQ", "test input");
  return req;
}

// The subject as (short name, value) pairs in encoding order, read with OpenSSL alone.
std::vector<std::pair<std::string, std::string>> subject_entries(X509_REQ* req) {
  std::vector<std::pair<std::string, std::string>> out;
  const X509_NAME* name = X509_REQ_get_subject_name(req);
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(e);
    out.emplace_back(OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e))),
                     std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                                 static_cast<std::size_t>(ASN1_STRING_length(data))));
  }
  return out;
}

std::string der_of_tbs(X509_REQ* req) {
  unsigned char* der = nullptr;
  const int len = i2d_re_X509_REQ_tbs(req, &der);
  if (len <= 0) throw ossl::CallFailed("i2d_re_X509_REQ_tbs");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

// The CertificationRequestInfo of `theirs` with its public key swapped for `mine`'s: what
// `mine` must be byte for byte if both encode the same request the same way.
std::string tbs_with_public_key_of(X509_REQ* theirs, X509_REQ* mine) {
  std::string tbs = der_of_tbs(theirs);
  const std::string their_key = public_key_der(X509_REQ_get0_pubkey(theirs));
  const std::string my_key = public_key_der(X509_REQ_get0_pubkey(mine));
  const auto at = tbs.find(their_key);
  if (at == std::string::npos || their_key.size() != my_key.size())
    throw std::runtime_error("key not found in the request");
  tbs.replace(at, their_key.size(), my_key);
  return tbs;
}

struct CsrAlgorithmCase {
  KeyAlgorithm algorithm;
  int signature_nid;  // what Go's x509.CreateCertificateRequest uses for this key
};

class RotationCsrAlgorithm : public ::testing::TestWithParam<CsrAlgorithmCase> {};

TEST_P(RotationCsrAlgorithm, ClientRequestHasExactlyKubeletsFieldsAndAValidSignature) {
  const auto& c = GetParam();
  auto key = generate_key(c.algorithm);
  const std::string pem = testing::must(build_csr_pem(key.get(), client_request()));
  EXPECT_EQ(pem.rfind("-----BEGIN CERTIFICATE REQUEST-----\n", 0), 0u);
  auto req = read_req(pem);

  EXPECT_EQ(X509_REQ_get_version(req.get()), X509_REQ_VERSION_1);
  // O before CN, exactly these two, as kubelet's Go code encodes pkix.Name.
  const std::vector<std::pair<std::string, std::string>> expected = {{"O", "system:nodes"},
                                                                     {"CN", "system:node:testnode1"}};
  EXPECT_EQ(subject_entries(req.get()), expected);
  // No attributes at all: no extension request, no challenge password.
  EXPECT_EQ(X509_REQ_get_attr_count(req.get()), 0);
  EXPECT_EQ(X509_REQ_get_signature_nid(req.get()), c.signature_nid);
  EXPECT_EQ(EVP_PKEY_eq(X509_REQ_get0_pubkey(req.get()), key.get()), 1);
  EXPECT_EQ(X509_REQ_verify(req.get(), key.get()), 1);

  // Our own parser agrees.
  auto parsed = parse_csr_pem(pem);
  ASSERT_TRUE(parsed) << parsed.error().format();
  EXPECT_TRUE(parsed->signature_valid);
  EXPECT_EQ(parsed->subject, client_request().subject);
  EXPECT_TRUE(same_public_key(parsed->public_key.get(), key.get()));
  EXPECT_TRUE(parsed->dns_names.empty());
  EXPECT_TRUE(parsed->ip_addresses.empty());
  EXPECT_TRUE(parsed->email_addresses.empty());
  EXPECT_TRUE(parsed->uris.empty());
  EXPECT_TRUE(parsed->other_subject_fields.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, RotationCsrAlgorithm,
    ::testing::Values(CsrAlgorithmCase{KeyAlgorithm::EcdsaP256, NID_ecdsa_with_SHA256},
                      CsrAlgorithmCase{KeyAlgorithm::EcdsaP384, NID_ecdsa_with_SHA384},
                      CsrAlgorithmCase{KeyAlgorithm::Rsa2048, NID_sha256WithRSAEncryption},
                      CsrAlgorithmCase{KeyAlgorithm::Rsa3072, NID_sha256WithRSAEncryption}),
    [](const auto& i) {
      std::string n(to_string(i.param.algorithm));
      n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
      return n;
    });

TEST(RotationCsr, ClientRequestIsByteIdenticalToKubeletsRecordedOneApartFromTheKey) {
  auto theirs = read_req(testing::read_text(kFixtures / "k8s-api/testnode1-bootstrap-ec.csr.pem"));
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  auto mine = read_req(testing::must(build_csr_pem(key.get(), client_request("testnode1"))));
  EXPECT_EQ(der_of_tbs(mine.get()), tbs_with_public_key_of(theirs.get(), mine.get()));
  EXPECT_EQ(X509_REQ_get_signature_nid(mine.get()), X509_REQ_get_signature_nid(theirs.get()));
}

TEST(RotationCsr, ServingRequestIsByteIdenticalToKubeletsRecordedOneApartFromTheKey) {
  auto theirs = read_req(testing::read_text(kFixtures / "k8s-api/testnode1-serving-ec.csr.pem"));
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  CsrRequest r = client_request("testnode1");
  r.dns_names = {"testnode1", "localhost"};
  r.ip_addresses = {"127.0.0.1"};
  auto mine = read_req(testing::must(build_csr_pem(key.get(), r)));
  EXPECT_EQ(der_of_tbs(mine.get()), tbs_with_public_key_of(theirs.get(), mine.get()));
}

TEST(RotationCsr, ServingRequestCarriesOneNonCriticalSubjectAltNameWithEveryName) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  CsrRequest r = client_request();
  r.dns_names = {"testnode1", "testnode1.example"};
  r.ip_addresses = {"10.0.0.5", "fd00::5"};
  auto req = read_req(testing::must(build_csr_pem(key.get(), r)));
  ExtensionStackPtr exts(X509_REQ_get_extensions(req.get()));
  ASSERT_NE(exts, nullptr);
  ASSERT_EQ(sk_X509_EXTENSION_num(exts.get()), 1);
  X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), 0);
  EXPECT_EQ(OBJ_obj2nid(X509_EXTENSION_get_object(ext)), NID_subject_alt_name);
  EXPECT_EQ(X509_EXTENSION_get_critical(ext), 0);
  ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(names.get()), 4);
  std::vector<std::pair<int, std::string>> got;
  for (int i = 0; i < 4; ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    const ASN1_STRING* s = gn->type == GEN_DNS ? gn->d.dNSName : gn->d.iPAddress;
    got.emplace_back(gn->type, std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                           static_cast<std::size_t>(ASN1_STRING_length(s))));
  }
  const std::vector<std::pair<int, std::string>> expected = {
      {GEN_DNS, "testnode1"},
      {GEN_DNS, "testnode1.example"},
      {GEN_IPADD, std::string("\x0a\x00\x00\x05", 4)},
      {GEN_IPADD, std::string("\xfd\x00\0\0\0\0\0\0\0\0\0\0\0\0\0\x05", 16)}};
  EXPECT_EQ(got, expected);
  EXPECT_EQ(X509_REQ_verify(req.get(), key.get()), 1);

  auto parsed = parse_csr_pem(testing::must(build_csr_pem(key.get(), r)));
  ASSERT_TRUE(parsed) << parsed.error().format();
  EXPECT_EQ(parsed->dns_names, r.dns_names);
  EXPECT_EQ(parsed->ip_addresses, r.ip_addresses);
}

TEST(RotationCsr, OpenSslCommandLineVerifiesAndReadsOurRequest) {
  testing::TempDir tmp;
  auto key = generate_key(KeyAlgorithm::EcdsaP384);
  CsrRequest r = client_request("node-a");
  r.dns_names = {"node-a"};
  r.ip_addresses = {"192.0.2.7"};
  std::ofstream(tmp / "req.pem") << testing::must(build_csr_pem(key.get(), r));
  auto out = testing::run_process({"/usr/bin/openssl", "req", "-in", (tmp / "req.pem").string(), "-noout",
                                   "-verify", "-text", "-nameopt", "RFC2253"},
                                  tmp / "logs");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const std::string all = out.out + out.err;
  for (const char* expected :
       {"verify OK", "Version: 1 (0x0)", "Subject: CN=system:node:node-a,O=system:nodes",
        "ASN1 OID: secp384r1", "DNS:node-a, IP Address:192.0.2.7", "ecdsa-with-SHA384"}) {
    EXPECT_NE(all.find(expected), std::string::npos) << "missing \"" << expected << "\" in:\n" << all;
  }
}

TEST(RotationCsr, AnUnparsableIpAddressIsRefusedNamingIt) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  for (const std::string bad : {"10.0.0.300", "10.0.0", "fd00::5::6", "localhost", ""}) {
    CsrRequest r = client_request();
    r.ip_addresses = {bad};
    const auto pem = build_csr_pem(key.get(), r);
    ASSERT_FALSE(pem) << "\"" << bad << "\" was accepted";
    EXPECT_EQ(pem.error().kind, ErrorKind::Config);
    EXPECT_NE(pem.error().format().find("\"" + bad + "\""), std::string::npos) << pem.error().format();
  }
}

TEST(RotationCsr, ParsesKubeletsRecordedRequests) {
  auto client = parse_csr_pem(testing::read_text(kFixtures / "k8s-api/testnode1-bootstrap-ec.csr.pem"));
  ASSERT_TRUE(client) << client.error().format();
  EXPECT_TRUE(client->signature_valid);
  EXPECT_EQ(client->subject, (Subject{"system:node:testnode1", {"system:nodes"}}));
  EXPECT_EQ(describe_key(client->public_key.get()), "ECDSA P-256");
  EXPECT_TRUE(client->dns_names.empty());
  EXPECT_TRUE(client->ip_addresses.empty());
  EXPECT_TRUE(client->other_subject_fields.empty());

  auto serving = parse_csr_pem(testing::read_text(kFixtures / "k8s-api/testnode1-serving-ec.csr.pem"));
  ASSERT_TRUE(serving) << serving.error().format();
  EXPECT_TRUE(serving->signature_valid);
  EXPECT_EQ(serving->subject, (Subject{"system:node:testnode1", {"system:nodes"}}));
  EXPECT_EQ(serving->dns_names, (std::vector<std::string>{"testnode1", "localhost"}));
  EXPECT_EQ(serving->ip_addresses, std::vector<std::string>{"127.0.0.1"});
  EXPECT_TRUE(serving->email_addresses.empty());
  EXPECT_TRUE(serving->uris.empty());
}

// A CSR built with OpenSSL directly, for what our builder never produces.
struct ForeignCsr {
  std::vector<std::pair<std::string, std::string>> subject;
  std::string san;                // X509V3 config form, e.g. "email:a@b,URI:spiffe://x"
  EVP_PKEY* sign_with = nullptr;  // another key: the signature will not verify
};

std::string foreign_csr(EVP_PKEY* key, const ForeignCsr& spec) {
  ossl::X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), X509_REQ_VERSION_1);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  for (const auto& [field, value] : spec.subject) {
    X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0);
  }
  X509_REQ_set_pubkey(req.get(), key);
  if (!spec.san.empty()) {
    ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
    sk_X509_EXTENSION_push(exts.get(),
                           X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, spec.san.c_str()));
    X509_REQ_add_extensions(req.get(), exts.get());
  }
  if (X509_REQ_sign(req.get(), spec.sign_with != nullptr ? spec.sign_with : key, EVP_sha256()) <= 0) {
    throw ossl::CallFailed("X509_REQ_sign");
  }
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  return ossl::bio_to_string(bio.get());
}

TEST(RotationCsr, ParsingReportsEmailAndUriNamesAndNormalisesIps) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  auto parsed = parse_csr_pem(foreign_csr(
      key.get(), {{{"CN", "system:node:n1"}},
                  "DNS:n1,IP:fd00:0:0::0005,IP:10.1.2.3,email:root@n1.example,URI:spiffe://cluster/n1"}));
  ASSERT_TRUE(parsed) << parsed.error().format();
  EXPECT_EQ(parsed->dns_names, std::vector<std::string>{"n1"});
  EXPECT_EQ(parsed->ip_addresses, (std::vector<std::string>{"fd00::5", "10.1.2.3"}));
  EXPECT_EQ(parsed->email_addresses, std::vector<std::string>{"root@n1.example"});
  EXPECT_EQ(parsed->uris, std::vector<std::string>{"spiffe://cluster/n1"});
  EXPECT_TRUE(parsed->subject.organizations.empty());
}

TEST(RotationCsr, ParsingReportsSubjectFieldsBeyondCnAndO) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  auto parsed = parse_csr_pem(foreign_csr(key.get(), {{{"O", "system:nodes"},
                                                       {"OU", "ops"},
                                                       {"O", "system:masters"},
                                                       {"CN", "system:node:n1"},
                                                       {"CN", "system:node:n2"},
                                                       {"C", "DE"}},
                                                      ""}));
  ASSERT_TRUE(parsed) << parsed.error().format();
  EXPECT_EQ(parsed->subject.common_name, "system:node:n1");
  EXPECT_EQ(parsed->subject.organizations, (std::vector<std::string>{"system:nodes", "system:masters"}));
  EXPECT_EQ(parsed->other_subject_fields, (std::vector<std::string>{"OU=ops", "CN=system:node:n2", "C=DE"}));
}

TEST(RotationCsr, ParsingReportsABadSignatureWithoutFailing) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  auto other = generate_key(KeyAlgorithm::EcdsaP256);
  auto parsed = parse_csr_pem(foreign_csr(key.get(), {{{"CN", "system:node:n1"}}, "", other.get()}));
  ASSERT_TRUE(parsed) << parsed.error().format();
  EXPECT_FALSE(parsed->signature_valid);
  EXPECT_TRUE(same_public_key(parsed->public_key.get(), key.get()));
}

struct BadCsrCase {
  std::string name;
  friend void PrintTo(const BadCsrCase& c, std::ostream* os) { *os << c.name; }
  std::function<std::string()> pem;
  std::string fragment;
};

class RotationCsrParseRejects : public ::testing::TestWithParam<BadCsrCase> {};

TEST_P(RotationCsrParseRejects, WithAnErrorSayingWhatIsWrong) {
  const auto& c = GetParam();
  auto parsed = parse_csr_pem(c.pem());
  ASSERT_FALSE(parsed) << c.name << " was accepted";
  EXPECT_NE(parsed.error().message.find(c.fragment), std::string::npos) << parsed.error().format();
  EXPECT_EQ(ERR_peek_error(), 0u) << "errors left on OpenSSL's queue";
}

std::string truncated_fixture() {
  std::string pem = testing::read_text(kFixtures / "k8s-api/testnode1-bootstrap-ec.csr.pem");
  const auto body = pem.find('\n') + 1;
  return pem.substr(0, body) + pem.substr(body, 40) + "\n-----END CERTIFICATE REQUEST-----\n";
}

INSTANTIATE_TEST_SUITE_P(
    Table, RotationCsrParseRejects,
    ::testing::Values(
        BadCsrCase{"NotPem", [] { return std::string("hello"); }, "not a PEM CERTIFICATE REQUEST"},
        BadCsrCase{"ACertificateInstead",
                   [] { return testing::read_text(kFixtures / "k8s-api/testnode1-client-issued.crt.pem"); },
                   "not a PEM CERTIFICATE REQUEST"},
        BadCsrCase{"BadBase64",
                   [] {
                     return std::string(
                         "-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n");
                   },
                   "does not parse"},
        BadCsrCase{"TruncatedDer", truncated_fixture, "does not parse"},
        BadCsrCase{"NoEndLine", [] { return std::string("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"); },
                   "does not parse"}),
    [](const auto& i) { return i.param.name; });

}  // namespace
}  // namespace kcd::rotation
