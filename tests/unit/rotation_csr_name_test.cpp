// CSR names: kubelet's digestedName reproduced exactly, checked against vectors computed
// independently of our code, and valid as Kubernetes object names.
#include "rotation/csr_name.hpp"

#include "rotation/key.hpp"
#include "tests/support/must.hpp"
#include "tests/support/subprocess.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>

namespace kcd::rotation {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = KCD_FIXTURES_DIR;
const std::vector<std::string> kClientUsages = {"digital signature", "key encipherment", "client auth"};
const std::vector<std::string> kServingUsages = {"digital signature", "key encipherment", "server auth"};

CsrRequest request(const std::string& node, std::vector<std::string> dns = {},
                   std::vector<std::string> ips = {}) {
  CsrRequest r;
  r.subject.common_name = "system:node:" + node;
  r.subject.organizations = {"system:nodes"};
  r.dns_names = std::move(dns);
  r.ip_addresses = std::move(ips);
  return r;
}

ossl::PKeyPtr fixture_key(const std::string& name) {
  return testing::must(load_private_key_pem(testing::read_text(kFixtures / "crypto" / name), name));
}

struct VectorCase {
  std::string name;
  friend void PrintTo(const VectorCase& c, std::ostream* os) { *os << c.name; }
  std::string key_file;
  CsrRequest request;
  std::vector<std::string> usages;
  std::string expected;
};

class RotationCsrNameVector : public ::testing::TestWithParam<VectorCase> {};

// The expected names were computed with Python's hashlib "sha512_256" and
// base64.urlsafe_b64encode(...).rstrip(b"=") over `openssl pkey -pubout -outform DER` of the
// fixture keys, following kubelet's digestedName (see tests/fixtures/crypto/README.md).
TEST_P(RotationCsrNameVector, MatchesTheIndependentlyComputedName) {
  const auto& c = GetParam();
  auto key = fixture_key(c.key_file);
  EXPECT_EQ(csr_name(key.get(), c.request, c.usages), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RotationCsrNameVector,
    ::testing::Values(
        // No SANs: byte-identical to kubelet's own name for this key and request.
        VectorCase{"P256Client", "csrname-p256.key", request("testnode1"), kClientUsages,
                   "node-csr-08oHr_Mv1C3OJkKn7ki-_8dRGmGVwaD0DIEKHHwPEsk"},
        // kubelet's usages for an ECDSA key (no key encipherment).
        VectorCase{"P256ClientEcUsages",
                   "csrname-p256.key",
                   request("testnode1"),
                   {"digital signature", "client auth"},
                   "node-csr-6e_R4bK_IvzEQqGWg7XG3OgUtJQQJcM87EcZMeZx6lk"},
        VectorCase{"P256Serving", "csrname-p256.key", request("testnode1", {"testnode1"}, {"10.0.0.5"}),
                   kServingUsages, "node-csr-xGEDH8s3l2AmxpQOY_XPAAioSKeiCmoWNarRPjgL6pQ"},
        VectorCase{"Rsa2048Client", "csrname-rsa2048.key", request("worker-7"), kClientUsages,
                   "node-csr-NenpH6ARK2Lh7uRup75zj2Qbs2RztzEqSeNHPwox0f4"},
        VectorCase{"Rsa2048Serving", "csrname-rsa2048.key",
                   request("worker-7", {"worker-7", "worker-7.example"}, {"10.0.0.7", "fd00::7"}),
                   kServingUsages, "node-csr-5b52v86eh6YsP7y9Nai3ArTbtXVDxbcNEbm3CJ8uui4"}),
    [](const auto& i) { return i.param.name; });

// The same derivation at test time on a fresh key, when python3 is there to do it.
TEST(RotationCsrName, MatchesAnIndependentComputationForAFreshKey) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "python3 not installed";
  testing::TempDir tmp;
  auto key = generate_key(KeyAlgorithm::EcdsaP384);
  std::ofstream(tmp / "pub.der", std::ios::binary) << public_key_der(key.get());
  const std::string script =
      "import base64,hashlib,sys\n"
      "enc=lambda b: base64.urlsafe_b64encode(b).rstrip(b'=')\n"
      "h=hashlib.new('sha512_256')\n"
      "for f in [open(sys.argv[1],'rb').read()]+[a.encode() for a in sys.argv[2:]]: h.update(enc(f)+b'|')\n"
      "print('node-csr-'+enc(h.digest()).decode())\n";
  auto out =
      testing::run_process({"/usr/bin/python3", "-c", script, (tmp / "pub.der").string(), "system:node:fresh",
                            "system:nodes", "digital signature", "key encipherment", "client auth"},
                           tmp / "logs");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(csr_name(key.get(), request("fresh"), kClientUsages) + "\n", out.out);
}

TEST(RotationCsrName, SameInputsGiveTheSameName) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  // A reloaded key (as after a restart) gives the same name as the key in memory.
  auto reloaded = testing::must(load_private_key_pem(private_key_to_pem(key.get()), "reloaded"));
  EXPECT_EQ(csr_name(key.get(), request("n1"), kClientUsages),
            csr_name(reloaded.get(), request("n1"), kClientUsages));
}

struct ChangeCase {
  std::string name;
  friend void PrintTo(const ChangeCase& c, std::ostream* os) { *os << c.name; }
  std::function<void(CsrRequest&, std::vector<std::string>&)> change;
};

class RotationCsrNameChanges : public ::testing::TestWithParam<ChangeCase> {};

TEST_P(RotationCsrNameChanges, WhenAnyInputChanges) {
  static auto key = generate_key(KeyAlgorithm::EcdsaP256);
  CsrRequest r = request("n1", {"n1"}, {"10.0.0.1"});
  std::vector<std::string> usages = kServingUsages;
  const std::string before = csr_name(key.get(), r, usages);
  GetParam().change(r, usages);
  EXPECT_NE(csr_name(key.get(), r, usages), before);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RotationCsrNameChanges,
    ::testing::Values(
        ChangeCase{"CommonName", [](CsrRequest& r, auto&) { r.subject.common_name = "system:node:n2"; }},
        ChangeCase{"ExtraOrganization", [](CsrRequest& r, auto&) { r.subject.organizations.push_back("x"); }},
        ChangeCase{"NoOrganization", [](CsrRequest& r, auto&) { r.subject.organizations.clear(); }},
        ChangeCase{"UsageOrder", [](CsrRequest&, auto& u) { std::swap(u[0], u[2]); }},
        ChangeCase{"UsageRemoved", [](CsrRequest&, auto& u) { u.pop_back(); }},
        ChangeCase{"DnsName", [](CsrRequest& r, auto&) { r.dns_names = {"n1.example"}; }},
        ChangeCase{"DnsNameAdded", [](CsrRequest& r, auto&) { r.dns_names.push_back("n1.example"); }},
        ChangeCase{"IpAddress", [](CsrRequest& r, auto&) { r.ip_addresses = {"10.0.0.2"}; }},
        ChangeCase{"SansRemoved",
                   [](CsrRequest& r, auto&) {
                     r.dns_names.clear();
                     r.ip_addresses.clear();
                   }},
        // The '|' delimiter: moving a boundary between fields must change the digest.
        ChangeCase{"FieldBoundaryMoved",
                   [](CsrRequest& r, auto&) {
                     r.subject.common_name += "system:nodes";
                     r.subject.organizations = {""};
                   }}),
    [](const auto& i) { return i.param.name; });

TEST(RotationCsrName, AnotherKeyGivesAnotherName) {
  auto a = generate_key(KeyAlgorithm::EcdsaP256);
  auto b = generate_key(KeyAlgorithm::EcdsaP256);
  EXPECT_NE(csr_name(a.get(), request("n1"), kClientUsages), csr_name(b.get(), request("n1"), kClientUsages));
}

// CSR names are checked with path-segment rules only (ValidateCertificateRequestName
// accepts anything): no "/" or "%", not "." or "..", and at most 253 characters to stay
// storable everywhere. Uppercase and '_' from base64url are fine.
TEST(RotationCsrName, IsAValidCsrObjectName) {
  for (int i = 0; i < 20; ++i) {
    auto key = generate_key(KeyAlgorithm::EcdsaP256);
    const std::string name = csr_name(key.get(), request("n" + std::to_string(i)), kClientUsages);
    EXPECT_EQ(name.rfind("node-csr-", 0), 0u) << name;
    // 32 digest bytes in unpadded base64 are 43 characters.
    EXPECT_EQ(name.size(), 9u + 43u) << name;
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", 9),
              std::string::npos)
        << name;
    EXPECT_EQ(name.find_first_of("/%="), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace kcd::rotation
