// Certificate facts: the real signer's certificate checked against `openssl x509` and the
// recorder's notes, every CertInfo field on certificates made by the test CA, PEM chains.
#include "rotation/certificate.hpp"

#include "base/base64.hpp"
#include "base/rfc3339.hpp"
#include "rotation/key.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/test_ca.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>

namespace kcd::rotation {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::CertSpec;
using testing::TestCa;

const fs::path kFixtures = KCD_FIXTURES_DIR;
const fs::path kIssuedPem = kFixtures / "k8s-api/testnode1-client-issued.crt.pem";

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// `openssl x509 -noout <args>` on `pem_file`, as "key=value" lines.
std::map<std::string, std::string> openssl_x509(const fs::path& pem_file, std::vector<std::string> args) {
  testing::TempDir tmp;
  std::vector<std::string> argv = {"/usr/bin/openssl", "x509", "-in", pem_file.string(), "-noout"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = testing::run_process(argv, tmp / "logs");
  if (out.exit_code != 0) throw std::runtime_error("openssl x509 failed: " + out.err);
  std::map<std::string, std::string> values;
  std::size_t pos = 0;
  while (pos < out.out.size()) {
    const auto nl = out.out.find('\n', pos);
    const std::string line = out.out.substr(pos, nl - pos);
    pos = nl == std::string::npos ? out.out.size() : nl + 1;
    const auto eq = line.find('=');
    if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return values;
}

CertInfo inspect_fixture() {
  auto chain = parse_certificates_pem(testing::read_text(kIssuedPem), "fixture");
  if (!chain) throw std::runtime_error(chain.error().format());
  return inspect_certificate(chain->front().get());
}

TEST(RotationCertificate, SignersCertificateFactsAgreeWithOpenSslCommandLine) {
  const CertInfo info = inspect_fixture();
  auto cli = openssl_x509(kIssuedPem, {"-serial", "-issuer", "-nameopt", "RFC2253", "-fingerprint", "-sha256",
                                       "-dates", "-dateopt", "iso_8601"});
  std::string serial = lower(cli.at("serial"));
  serial.erase(0, serial.find_first_not_of('0'));
  EXPECT_EQ(info.serial, serial);
  EXPECT_EQ(info.issuer, cli.at("issuer"));
  std::string fingerprint = lower(cli.at("sha256 Fingerprint"));
  fingerprint.erase(std::remove(fingerprint.begin(), fingerprint.end(), ':'), fingerprint.end());
  EXPECT_EQ(info.sha256_fingerprint, fingerprint);
  // "2026-11-22 10:27:28Z" -> RFC 3339.
  auto iso = [](std::string s) { return s.replace(s.find(' '), 1, "T"); };
  EXPECT_EQ(to_rfc3339(info.not_before), iso(cli.at("notBefore")));
  EXPECT_EQ(to_rfc3339(info.not_after), iso(cli.at("notAfter")));
}

TEST(RotationCertificate, SignersCertificateFactsAgreeWithTheRecordersNotes) {
  const auto exchange =
      nlohmann::json::parse(testing::read_text(kFixtures / "k8s-api/csr-get-approved-issued.json"));
  const auto& notes = exchange.at("notes").at("issued_certificate");
  // status.certificate of the recorded CSR, exactly as the client receives it.
  const auto body = nlohmann::json::parse(exchange.at("response").at("body_raw").get<std::string>());
  const auto pem = base64_decode(body.at("status").at("certificate").get<std::string>());
  ASSERT_TRUE(pem);
  auto chain = parse_certificates_pem(*pem, "status.certificate");
  ASSERT_TRUE(chain) << chain.error().format();
  ASSERT_EQ(chain->size(), 1u);
  const CertInfo info = inspect_certificate(chain->front().get());

  EXPECT_EQ(info.not_before, parse_rfc3339(notes.at("notBefore").get<std::string>()));
  EXPECT_EQ(info.not_after, parse_rfc3339(notes.at("notAfter").get<std::string>()));
  EXPECT_EQ(info.not_after - info.not_before, std::chrono::seconds(notes.at("validity_seconds").get<long>()));
  const std::string text = notes.at("openssl_text").get<std::string>();
  const auto serial_at = text.find("serial=") + 7;
  EXPECT_EQ(info.serial, lower(text.substr(serial_at, text.find('\n', serial_at) - serial_at)));
  EXPECT_NE(text.find("subject=O = system:nodes, CN = system:node:testnode1"), std::string::npos);
  EXPECT_EQ(info.common_name, "system:node:testnode1");
  EXPECT_EQ(info.organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_NE(text.find("issuer=CN = kubernetes"), std::string::npos);
  EXPECT_EQ(info.issuer, "CN=kubernetes");
  EXPECT_EQ(info.issuer_common_name, "kubernetes");
  EXPECT_NE(text.find("Digital Signature, Key Encipherment"), std::string::npos);
  EXPECT_EQ(info.key_usages, (std::vector<std::string>{"digital signature", "key encipherment"}));
  EXPECT_NE(text.find("TLS Web Client Authentication"), std::string::npos);
  EXPECT_EQ(info.ext_key_usages, std::vector<std::string>{"client auth"});
  EXPECT_NE(text.find("CA:FALSE"), std::string::npos);
  EXPECT_FALSE(info.is_ca);
  EXPECT_EQ(info.key_algorithm, "ECDSA P-256");
  EXPECT_TRUE(info.dns_names.empty());
  EXPECT_TRUE(info.ip_addresses.empty());
}

// ---- every field, on certificates the test CA makes ----------------------------------

struct World {
  TestCa root = TestCa::create_root("kubernetes", KeyAlgorithm::EcdsaP256);
  TestCa intermediate = root.create_intermediate("kubernetes-intermediate");
  ossl::PKeyPtr ec = generate_key(KeyAlgorithm::EcdsaP384);
  ossl::PKeyPtr rsa = generate_key(KeyAlgorithm::Rsa2048);
  SysTime not_before = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) - 5min;
};

World& world() {
  static World w;
  return w;
}

struct FieldCase {
  std::string name;
  friend void PrintTo(const FieldCase& c, std::ostream* os) { *os << c.name; }
  std::function<CertSpec(World&)> spec;
  bool rsa = false;
  bool by_intermediate = false;
  std::function<void(const CertInfo&, const World&)> check;
};

class RotationCertificateFields : public ::testing::TestWithParam<FieldCase> {};

TEST_P(RotationCertificateFields, AreReadAsIssued) {
  auto& w = world();
  const auto& c = GetParam();
  const TestCa& ca = c.by_intermediate ? w.intermediate : w.root;
  auto cert = ca.issue(c.rsa ? w.rsa.get() : w.ec.get(), c.spec(w));
  c.check(inspect_certificate(cert.get()), w);
}

CertSpec base(World& w) {
  CertSpec s;
  s.subject = {"system:node:n1", {"system:nodes"}};
  s.not_before = w.not_before;
  s.not_after = w.not_before + 24h;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RotationCertificateFields,
    ::testing::Values(
        FieldCase{
            "SubjectWithSeveralOrganizationsInOrder",
            [](World& w) {
              auto s = base(w);
              s.subject.organizations = {"system:nodes", "b-team", "a-team"};
              return s;
            },
            false, false,
            [](const CertInfo& i, const World&) {
              EXPECT_EQ(i.common_name, "system:node:n1");
              EXPECT_EQ(i.organizations, (std::vector<std::string>{"system:nodes", "b-team", "a-team"}));
            }},
        FieldCase{"ServingSansWithIpv6InInetNtopForm",
                  [](World& w) {
                    auto s = base(w);
                    s.dns_names = {"n1", "n1.example"};
                    s.ip_addresses = {"10.0.0.1", "fd00:0::0:1"};
                    s.email_addresses = {"x@n1.example"};  // not a DNS or IP name: not listed
                    return s;
                  },
                  false, false,
                  [](const CertInfo& i, const World&) {
                    EXPECT_EQ(i.dns_names, (std::vector<std::string>{"n1", "n1.example"}));
                    EXPECT_EQ(i.ip_addresses, (std::vector<std::string>{"10.0.0.1", "fd00::1"}));
                  }},
        FieldCase{"ExtendedKeyUsagesInKubernetesSpellingAndOrder",
                  [](World& w) {
                    auto s = base(w);
                    s.ext_key_usages = {"server auth",      "client auth",  "code signing",
                                        "email protection", "timestamping", "ocsp signing",
                                        "ipsec end system", "any"};
                    return s;
                  },
                  false, false,
                  [](const CertInfo& i, const World&) {
                    EXPECT_EQ(i.ext_key_usages,
                              (std::vector<std::string>{"server auth", "client auth", "code signing",
                                                        "email protection", "timestamping", "ocsp signing",
                                                        "ipsec end system", "any"}));
                  }},
        FieldCase{"UnknownExtendedKeyUsageAsDottedOid",
                  [](World& w) {
                    auto s = base(w);
                    s.ext_key_usages = {"1.3.6.1.4.1.99999.1"};
                    return s;
                  },
                  false, false,
                  [](const CertInfo& i, const World&) {
                    EXPECT_EQ(i.ext_key_usages, std::vector<std::string>{"1.3.6.1.4.1.99999.1"});
                  }},
        FieldCase{"EveryKeyUsage",
                  [](World& w) {
                    auto s = base(w);
                    s.key_usages = {"decipher only",    "encipher only",      "crl sign",
                                    "cert sign",        "key agreement",      "data encipherment",
                                    "key encipherment", "content commitment", "digital signature"};
                    return s;
                  },
                  false, false,
                  [](const CertInfo& i, const World&) {
                    // In the bit order of RFC 5280, whatever order they were asked for.
                    EXPECT_EQ(i.key_usages, (std::vector<std::string>{
                                                "digital signature", "content commitment", "key encipherment",
                                                "data encipherment", "key agreement", "cert sign", "crl sign",
                                                "encipher only", "decipher only"}));
                  }},
        FieldCase{"NoKeyUsageExtensionMeansNoUsagesListed", base, false, false,
                  [](const CertInfo& i, const World&) {
                    EXPECT_TRUE(i.key_usages.empty());
                    EXPECT_TRUE(i.ext_key_usages.empty());
                  }},
        FieldCase{"CaTrue",
                  [](World& w) {
                    auto s = base(w);
                    s.is_ca = true;
                    return s;
                  },
                  false, false, [](const CertInfo& i, const World&) { EXPECT_TRUE(i.is_ca); }},
        FieldCase{"CaFalse", base, false, false,
                  [](const CertInfo& i, const World&) { EXPECT_FALSE(i.is_ca); }},
        // keyCertSign without basicConstraints is not a CA for Go's x509 (IsCA is false).
        FieldCase{"NoBasicConstraintsIsNotACaEvenWithCertSign",
                  [](World& w) {
                    auto s = base(w);
                    s.omit_basic_constraints = true;
                    s.key_usages = {"cert sign"};
                    return s;
                  },
                  false, false, [](const CertInfo& i, const World&) { EXPECT_FALSE(i.is_ca); }},
        FieldCase{"SerialLowercaseWithoutLeadingZeros",
                  [](World& w) {
                    auto s = base(w);
                    s.serial_hex = "000ABCDEF0123";
                    return s;
                  },
                  false, false, [](const CertInfo& i, const World&) { EXPECT_EQ(i.serial, "abcdef0123"); }},
        FieldCase{"SerialWithTheHighBitSet",
                  [](World& w) {
                    auto s = base(w);
                    s.serial_hex = "FF";
                    return s;
                  },
                  false, false, [](const CertInfo& i, const World&) { EXPECT_EQ(i.serial, "ff"); }},
        FieldCase{"RandomSerialIs128BitsOrLess", base, false, false,
                  [](const CertInfo& i, const World&) {
                    EXPECT_LE(i.serial.size(), 32u);
                    EXPECT_GE(i.serial.size(), 16u)
                        << "a 128-bit random serial under 64 bits is 2^-64 likely";
                    EXPECT_EQ(i.serial.find_first_not_of("0123456789abcdef"), std::string::npos);
                  }},
        FieldCase{"TimesToTheSecond",
                  [](World& w) {
                    auto s = base(w);
                    s.not_after = w.not_before + 8760h;
                    return s;
                  },
                  false, false,
                  [](const CertInfo& i, const World& w) {
                    EXPECT_EQ(i.not_before, w.not_before);
                    EXPECT_EQ(i.not_after, w.not_before + 8760h);
                  }},
        // Beyond 2049 X.509 switches from UTCTime to GeneralizedTime.
        FieldCase{"NotAfterBeyond2049",
                  [](World& w) {
                    auto s = base(w);
                    s.not_after = std::chrono::sys_days(std::chrono::year(2051) / 3 / 4) + 5h + 6min + 7s;
                    return s;
                  },
                  false, false,
                  [](const CertInfo& i, const World&) {
                    EXPECT_EQ(to_rfc3339(i.not_after), "2051-03-04T05:06:07Z");
                  }},
        FieldCase{"RsaKeyAndRootIssuer", base, true, false,
                  [](const CertInfo& i, const World&) {
                    EXPECT_EQ(i.key_algorithm, "RSA 2048");
                    EXPECT_EQ(i.issuer, "CN=kubernetes");
                    EXPECT_EQ(i.issuer_common_name, "kubernetes");
                  }},
        FieldCase{"EcKeyAndIntermediateIssuer", base, false, true,
                  [](const CertInfo& i, const World&) {
                    EXPECT_EQ(i.key_algorithm, "ECDSA P-384");
                    EXPECT_EQ(i.issuer, "CN=kubernetes-intermediate");
                    EXPECT_EQ(i.issuer_common_name, "kubernetes-intermediate");
                  }}),
    [](const auto& i) { return i.param.name; });

// RFC 5280's "no well-defined expiration" is notAfter 99991231235959Z: such a time is clamped
// to what a SysTime holds (found by the certificate fuzz target: it overflowed).
TEST(RotationCertificate, NotAfterPastYear2262IsClampedNotOverflowed) {
  std::ifstream in(fs::path(KCD_FIXTURES_DIR) / "crypto/notafter-9966.pem");
  const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto chain = parse_certificates_pem(pem, "notafter-9966.pem");
  ASSERT_TRUE(chain.has_value()) << chain.error().message;
  const CertInfo info = inspect_certificate(chain->front().get());
  EXPECT_EQ(info.not_after, sys_time_from_seconds(kMaxSeconds));
  EXPECT_LT(info.not_before, info.not_after);
}

TEST(RotationCertificate, IssuerWithSeveralAttributesIsInRfc2253Order) {
  auto& w = world();
  CertSpec ca_spec = base(w);
  ca_spec.subject = {"cluster-ca", {"example"}};
  ca_spec.extra_subject_fields = {"OU=platform"};
  ca_spec.is_ca = true;
  ca_spec.key_usages = {"cert sign"};
  auto ca_key = generate_key(KeyAlgorithm::EcdsaP256);
  auto ca_cert = w.root.issue(ca_key.get(), ca_spec);
  auto ca = TestCa::load(testing::to_pem(ca_cert.get()), private_key_to_pem(ca_key.get()));
  auto leaf = ca.issue(w.ec.get(), base(w));
  const CertInfo info = inspect_certificate(leaf.get());
  // Encoded O, OU, CN; RFC 2253 prints the most specific first.
  EXPECT_EQ(info.issuer, "CN=cluster-ca,OU=platform,O=example");
  EXPECT_EQ(info.issuer_common_name, "cluster-ca");
}

TEST(RotationCertificate, FingerprintIsSha256OverTheDer) {
  auto& w = world();
  auto cert = w.root.issue(w.ec.get(), base(w));
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert.get(), &der);
  ASSERT_GT(len, 0);
  unsigned char md[32];
  unsigned int md_len = 0;
  ASSERT_EQ(EVP_Digest(der, static_cast<std::size_t>(len), md, &md_len, EVP_sha256(), nullptr), 1);
  OPENSSL_free(der);
  std::string expected;
  for (unsigned i = 0; i < md_len; ++i) {
    static const char* kHex = "0123456789abcdef";
    expected += kHex[md[i] >> 4];
    expected += kHex[md[i] & 15];
  }
  EXPECT_EQ(inspect_certificate(cert.get()).sha256_fingerprint, expected);
}

// ---- PEM chains ------------------------------------------------------------------------

TEST(RotationCertificate, ParsesAChainInOrderSkippingOtherBlocks) {
  auto& w = world();
  auto leaf = w.intermediate.issue(w.ec.get(), base(w));
  const std::string pem = testing::to_pem(leaf.get()) + private_key_to_pem(w.ec.get()) +
                          w.intermediate.cert_pem() + "some trailing text\n" + w.root.cert_pem();
  auto chain = parse_certificates_pem(pem, "kubelet-client-current.pem");
  ASSERT_TRUE(chain) << chain.error().format();
  ASSERT_EQ(chain->size(), 3u);
  EXPECT_EQ(X509_cmp((*chain)[0].get(), leaf.get()), 0);
  EXPECT_EQ(X509_cmp((*chain)[1].get(), w.intermediate.cert()), 0);
  EXPECT_EQ(X509_cmp((*chain)[2].get(), w.root.cert()), 0);
}

TEST(RotationCertificate, ACaBundleMayHoldMoreThanAChain) {
  std::string pem;
  for (std::size_t i = 0; i < kMaxChainCertificates + 5; ++i) pem += world().root.cert_pem();
  auto bundle = parse_certificates_pem(pem, "cluster CA", kMaxBundleCertificates);
  ASSERT_TRUE(bundle) << bundle.error().format();
  EXPECT_EQ(bundle->size(), kMaxChainCertificates + 5);
  EXPECT_FALSE(parse_certificates_pem(pem, "status.certificate"));
}

TEST(RotationCertificate, PemRoundTripKeepsTheExactDer) {
  const std::string pem = testing::read_text(kIssuedPem);
  auto chain = parse_certificates_pem(pem, "fixture");
  ASSERT_TRUE(chain) << chain.error().format();
  EXPECT_EQ(certificate_to_pem(chain->front().get()), pem);
}

struct BadChainCase {
  std::string name;
  friend void PrintTo(const BadChainCase& c, std::ostream* os) { *os << c.name; }
  std::function<std::string()> pem;
  std::string fragment;
};

class RotationCertificateChainRejects : public ::testing::TestWithParam<BadChainCase> {};

TEST_P(RotationCertificateChainRejects, NamingTheSourceAndWhatIsWrong) {
  const auto& c = GetParam();
  auto chain = parse_certificates_pem(c.pem(), "status.certificate of node-csr-x");
  ASSERT_FALSE(chain) << c.name << " was accepted";
  const std::string text = chain.error().format();
  EXPECT_EQ(chain.error().kind, ErrorKind::Corrupt);
  EXPECT_EQ(text.rfind("status.certificate of node-csr-x: ", 0), 0u) << text;
  EXPECT_NE(text.find(c.fragment), std::string::npos) << text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RotationCertificateChainRejects,
    ::testing::Values(
        BadChainCase{"Empty", [] { return std::string(); }, "no PEM CERTIFICATE block found"},
        BadChainCase{"OnlyAKey", [] { return private_key_to_pem(world().ec.get()); },
                     "no PEM CERTIFICATE block found"},
        BadChainCase{"OnlyARequest",
                     [] { return testing::read_text(kFixtures / "k8s-api/testnode1-bootstrap-ec.csr.pem"); },
                     "no PEM CERTIFICATE block found"},
        BadChainCase{"BadSecondCertificate",
                     [] {
                       return testing::read_text(kIssuedPem) +
                              "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
                     },
                     "certificate 2 does not parse"},
        BadChainCase{"NoEndLine",
                     [] {
                       const std::string pem = testing::read_text(kIssuedPem);
                       return pem.substr(0, pem.find("-----END"));
                     },
                     "certificate 1 has no \"-----END CERTIFICATE-----\" line"},
        // Thousands of certificates: refused at the eleventh, the rest never parsed.
        BadChainCase{"TooLong",
                     [] {
                       std::string pem;
                       for (int i = 0; i < 5000; ++i) pem += testing::read_text(kIssuedPem);
                       return pem;
                     },
                     "more than 10 certificates (the limit for a certificate chain)"}),
    [](const auto& i) { return i.param.name; });

}  // namespace
}  // namespace kcd::rotation
