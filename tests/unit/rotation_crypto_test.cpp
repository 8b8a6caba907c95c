// Keys, CSRs and CSR names, parsed back with OpenSSL and checked against independent vectors.
#include "rotation/certificate.hpp"
#include "rotation/csr.hpp"
#include "rotation/csr_name.hpp"
#include "rotation/key.hpp"
#include "tests/support/subprocess.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <fstream>

namespace kcd::rotation {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = KCD_FIXTURES_DIR;
const std::vector<std::string> kClientUsages = {"digital signature", "key encipherment", "client auth"};

CsrRequest client_request(const std::string& node = "testnode1") {
  CsrRequest r;
  r.subject.common_name = "system:node:" + node;
  r.subject.organizations = {"system:nodes"};
  return r;
}

class KeyAlgorithms : public ::testing::TestWithParam<KeyAlgorithm> {};

TEST_P(KeyAlgorithms, GenerateWriteReadBackAndDescribe) {
  const KeyAlgorithm alg = GetParam();
  auto key = generate_key(alg);
  EXPECT_EQ(key_algorithm_of(key.get()), alg);
  const std::string pem = private_key_to_pem(key.get());
  // kubelet's own forms: SEC1 for EC, PKCS#1 for RSA.
  const bool ec = alg == KeyAlgorithm::EcdsaP256 || alg == KeyAlgorithm::EcdsaP384;
  EXPECT_NE(pem.find(ec ? "-----BEGIN EC PRIVATE KEY-----" : "-----BEGIN RSA PRIVATE KEY-----"), std::string::npos);
  auto back = load_private_key_pem(pem, "test");
  EXPECT_TRUE(same_public_key(key.get(), back.get()));
  const std::map<KeyAlgorithm, std::string> names = {{KeyAlgorithm::EcdsaP256, "ECDSA P-256"},
                                                     {KeyAlgorithm::EcdsaP384, "ECDSA P-384"},
                                                     {KeyAlgorithm::Rsa2048, "RSA 2048"},
                                                     {KeyAlgorithm::Rsa3072, "RSA 3072"},
                                                     {KeyAlgorithm::Rsa4096, "RSA 4096"}};
  EXPECT_EQ(describe_key(key.get()), names.at(alg));

  // The CSR for this key verifies and carries exactly the subject, in kubelet's order.
  const std::string csr = build_csr_pem(key.get(), client_request());
  auto parsed = parse_csr_pem(csr);
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_TRUE(parsed->signature_valid);
  EXPECT_TRUE(same_public_key(parsed->public_key.get(), key.get()));
  EXPECT_EQ(parsed->subject.common_name, "system:node:testnode1");
  EXPECT_EQ(parsed->subject.organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_TRUE(parsed->dns_names.empty());
  EXPECT_TRUE(parsed->ip_addresses.empty());
  EXPECT_TRUE(parsed->other_subject_fields.empty());
}

INSTANTIATE_TEST_SUITE_P(All, KeyAlgorithms,
                         ::testing::Values(KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384, KeyAlgorithm::Rsa2048,
                                           KeyAlgorithm::Rsa3072, KeyAlgorithm::Rsa4096),
                         [](const auto& i) {
                           std::string n(to_string(i.param));
                           n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
                           return n;
                         });

TEST(RotationKey, TwoKeysDiffer) {
  auto a = generate_key(KeyAlgorithm::EcdsaP256);
  auto b = generate_key(KeyAlgorithm::EcdsaP256);
  EXPECT_FALSE(same_public_key(a.get(), b.get()));
  EXPECT_NE(public_key_der(a.get()), public_key_der(b.get()));
}

TEST(RotationKey, FindsTheKeyAfterCertificatesAndNamesTheSourceOnError) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" + private_key_to_pem(key.get());
  EXPECT_TRUE(same_public_key(load_private_key_pem(pem, "x").get(), key.get()));
  try {
    load_private_key_pem("-----BEGIN CERTIFICATE-----\n", "/var/lib/kubelet/pki/x.pem");
    FAIL();
  } catch (const ossl::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/var/lib/kubelet/pki/x.pem"), std::string::npos) << e.what();
  }
}

TEST(RotationCsr, ServingRequestCarriesItsSans) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  CsrRequest r = client_request();
  r.dns_names = {"testnode1", "testnode1.example"};
  r.ip_addresses = {"10.0.0.5", "fd00::5"};
  auto parsed = parse_csr_pem(build_csr_pem(key.get(), r));
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->dns_names, r.dns_names);
  EXPECT_EQ(parsed->ip_addresses, r.ip_addresses);
  EXPECT_TRUE(parsed->signature_valid);
}

TEST(RotationCsr, BadIpAddressIsRejected) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  CsrRequest r = client_request();
  r.ip_addresses = {"10.0.0.300"};
  EXPECT_THROW(build_csr_pem(key.get(), r), std::invalid_argument);
}

TEST(RotationCsr, OpenSslCommandLineAgreesWithOurCsr) {
  testing::TempDir tmp;
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  std::ofstream(tmp / "req.pem") << build_csr_pem(key.get(), client_request("node-a"));
  auto out = testing::run_process({"/usr/bin/openssl", "req", "-in", (tmp / "req.pem").string(), "-noout", "-verify",
                                   "-subject", "-nameopt", "RFC2253"},
                                  tmp / "logs");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE((out.out + out.err).find("verify OK"), std::string::npos) << out.out << out.err;
  EXPECT_NE(out.out.find("subject=CN=system:node:node-a,O=system:nodes"), std::string::npos) << out.out;
}

TEST(RotationCsr, ParsesTheRecordedCsrs) {
  auto client = parse_csr_pem(testing::read_text(kFixtures / "k8s-api/testnode1-bootstrap-ec.csr.pem"));
  ASSERT_TRUE(client) << client.error();
  EXPECT_TRUE(client->signature_valid);
  EXPECT_EQ(client->subject.common_name, "system:node:testnode1");
  EXPECT_EQ(client->subject.organizations, std::vector<std::string>{"system:nodes"});
  auto serving = parse_csr_pem(testing::read_text(kFixtures / "k8s-api/testnode1-serving-ec.csr.pem"));
  ASSERT_TRUE(serving) << serving.error();
  EXPECT_EQ(serving->dns_names, (std::vector<std::string>{"testnode1", "localhost"}));
  EXPECT_EQ(serving->ip_addresses, std::vector<std::string>{"127.0.0.1"});
}

TEST(RotationCsr, GarbageIsAnErrorNotACrash) {
  EXPECT_FALSE(parse_csr_pem("hello"));
  EXPECT_FALSE(parse_csr_pem("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"));
}

// Expected names computed independently (see tests/fixtures/crypto/README.md).
TEST(RotationCsrName, MatchesKubeletsDigestedNameForTheSameInputs) {
  auto key = load_private_key_pem(testing::read_text(kFixtures / "crypto/csrname-p256.key"), "fixture");
  EXPECT_EQ(csr_name(key.get(), client_request(), kClientUsages), "node-csr-08oHr_Mv1C3OJkKn7ki-_8dRGmGVwaD0DIEKHHwPEsk");
  CsrRequest serving = client_request();
  serving.dns_names = {"testnode1"};
  serving.ip_addresses = {"10.0.0.5"};
  EXPECT_EQ(csr_name(key.get(), serving, {"digital signature", "key encipherment", "server auth"}),
            "node-csr-xGEDH8s3l2AmxpQOY_XPAAioSKeiCmoWNarRPjgL6pQ");
}

TEST(RotationCsrName, IsStableAndChangesWithEveryInput) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  auto other = generate_key(KeyAlgorithm::EcdsaP256);
  const std::string base = csr_name(key.get(), client_request(), kClientUsages);
  EXPECT_EQ(base, csr_name(key.get(), client_request(), kClientUsages));
  EXPECT_NE(base, csr_name(other.get(), client_request(), kClientUsages));
  EXPECT_NE(base, csr_name(key.get(), client_request("testnode2"), kClientUsages));
  EXPECT_NE(base, csr_name(key.get(), client_request(), {"client auth", "digital signature", "key encipherment"}));
  CsrRequest with_san = client_request();
  with_san.ip_addresses = {"10.0.0.1"};
  EXPECT_NE(base, csr_name(key.get(), with_san, kClientUsages));
  // A Kubernetes object name: at most 253 characters of the base64url alphabet after the prefix.
  EXPECT_EQ(base.rfind("node-csr-", 0), 0u);
  EXPECT_EQ(base.size(), 9u + 43u);
  EXPECT_EQ(base.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", 9), std::string::npos);
}

TEST(RotationCertificate, InspectsTheRecordedIssuedCertificate) {
  auto chain = parse_certificates_pem(testing::read_text(kFixtures / "k8s-api/testnode1-client-issued.crt.pem"), "fixture");
  ASSERT_TRUE(chain) << chain.error();
  ASSERT_EQ(chain->size(), 1u);
  auto info = inspect_certificate(chain->front().get());
  EXPECT_EQ(info.common_name, "system:node:testnode1");
  EXPECT_EQ(info.organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_EQ(info.issuer, "CN=kubernetes");
  EXPECT_EQ(info.issuer_common_name, "kubernetes");
  EXPECT_EQ(info.key_algorithm, "ECDSA P-256");
  EXPECT_FALSE(info.is_ca);
  EXPECT_EQ(info.ext_key_usages, std::vector<std::string>{"client auth"});
  EXPECT_EQ(info.key_usages, (std::vector<std::string>{"digital signature", "key encipherment"}));
  EXPECT_TRUE(info.dns_names.empty());
  // Nov 22 10:27:28 2026 GMT .. Nov 22 10:27:28 2027 GMT (openssl x509 -dates on the fixture).
  EXPECT_EQ(std::chrono::system_clock::to_time_t(info.not_before), 1795343248);
  EXPECT_EQ(info.not_after - info.not_before, std::chrono::hours(8760));
  EXPECT_EQ(info.sha256_fingerprint.size(), 64u);
  // The serial as openssl prints it, lowercased.
  auto out = testing::run_process({"/usr/bin/openssl", "x509", "-in", (kFixtures / "k8s-api/testnode1-client-issued.crt.pem").string(),
                                   "-noout", "-serial"},
                                  fs::temp_directory_path() / "kcd-crypto-test");
  std::string serial = out.out.substr(out.out.find('=') + 1);
  serial.erase(serial.find_last_not_of("\n") + 1);
  for (auto& c : serial) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(info.serial, serial.substr(serial.find_first_not_of('0')));
}

TEST(RotationCertificate, ChainErrorsNameTheSource) {
  auto none = parse_certificates_pem("nothing here", "status.certificate of csr x");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("status.certificate of csr x"), std::string::npos);
  auto bad = parse_certificates_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "f.pem");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("does not parse"), std::string::npos);
}

}  // namespace
}  // namespace kcd::rotation
