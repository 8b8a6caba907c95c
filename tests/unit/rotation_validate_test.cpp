// The issued-certificate validator against a table of bad certificates made by a test CA.
#include "rotation/key.hpp"
#include "rotation/validate.hpp"
#include "tests/support/test_ca.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace kcd::rotation {
namespace {

using namespace std::chrono_literals;
using testing::CertSpec;
using testing::TestCa;

struct World {
  TestCa ca = TestCa::create_root("kubernetes");
  TestCa other_ca = TestCa::create_root("someone-else");
  TestCa intermediate = ca.create_intermediate("kubernetes-intermediate");
  ossl::PKeyPtr key = generate_key(KeyAlgorithm::EcdsaP256);
  ossl::PKeyPtr other_key = generate_key(KeyAlgorithm::EcdsaP256);
  SysTime now = std::chrono::system_clock::now();

  CertSpec client_spec() const {
    CertSpec s;
    s.subject = {"system:node:n1", {"system:nodes"}};
    s.ext_key_usages = {"client auth"};
    s.key_usages = {"digital signature", "key encipherment"};
    s.not_before = now - 5min;  // the signer's backdate
    s.not_after = now + 24h;
    return s;
  }

  ValidationPolicy policy(Usage usage = Usage::ClientAuth) const {
    ValidationPolicy p;
    p.expected_key = key.get();
    p.expected_subject = {"system:node:n1", {"system:nodes"}};
    p.usage = usage;
    p.trust_anchors = {ca.cert()};
    p.now = now;
    return p;
  }
};

World& world() {
  static World w;
  return w;
}

std::vector<ossl::X509Ptr> chain_of(ossl::X509Ptr leaf) {
  std::vector<ossl::X509Ptr> v;
  v.push_back(std::move(leaf));
  return v;
}

TEST(RotationValidate, AcceptsAGoodClientCertificate) {
  auto& w = world();
  auto result = validate_issued(chain_of(w.ca.issue(w.key.get(), w.client_spec())), w.policy());
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->common_name, "system:node:n1");
}

TEST(RotationValidate, AcceptsAChainThroughAnIntermediate) {
  auto& w = world();
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(w.intermediate.issue(w.key.get(), w.client_spec()));
  chain.push_back(ossl::X509Ptr(X509_dup(w.intermediate.cert())));
  EXPECT_TRUE(validate_issued(chain, w.policy()));
}

TEST(RotationValidate, AcceptsNotBeforeSlightlyInOurFuture) {
  auto& w = world();
  auto spec = w.client_spec();
  spec.not_before = w.now + 2min;  // our clock is behind the signer's
  EXPECT_TRUE(validate_issued(chain_of(w.ca.issue(w.key.get(), spec)), w.policy()));
}

TEST(RotationValidate, AcceptsAGoodServingCertificate) {
  auto& w = world();
  auto spec = w.client_spec();
  spec.ext_key_usages = {"server auth"};
  spec.dns_names = {"n1"};
  spec.ip_addresses = {"10.0.0.1"};
  auto policy = w.policy(Usage::ServerAuth);
  policy.expected_dns = {"n1"};
  policy.expected_ips = {"10.0.0.1"};
  EXPECT_TRUE(validate_issued(chain_of(w.ca.issue(w.key.get(), spec)), policy));
}

struct BadCase {
  std::string name;
  std::function<std::vector<ossl::X509Ptr>(World&)> make;
  std::string fragment;
  Usage usage = Usage::ClientAuth;
};

class RotationValidateRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(RotationValidateRejects, NamesTheFailingFact) {
  auto& w = world();
  const auto& c = GetParam();
  auto policy = w.policy(c.usage);
  if (c.usage == Usage::ServerAuth) {
    policy.expected_dns = {"n1"};
    policy.expected_ips = {"10.0.0.1"};
  }
  auto result = validate_issued(c.make(w), policy);
  ASSERT_FALSE(result) << c.name << " was accepted";
  EXPECT_NE(result.error().find(c.fragment), std::string::npos) << c.name << ": " << result.error();
}

CertSpec modified(World& w, const std::function<void(CertSpec&)>& f) {
  auto s = w.client_spec();
  f(s);
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RotationValidateRejects,
    ::testing::Values(
        BadCase{"WrongPublicKey", [](World& w) { return chain_of(w.ca.issue(w.other_key.get(), w.client_spec())); }, "public key"},
        BadCase{"OtherCommonName",
                [](World& w) { return chain_of(w.ca.issue(w.key.get(), modified(w, [](CertSpec& s) { s.subject.common_name = "system:node:n2"; }))); },
                "CN is \"system:node:n2\""},
        BadCase{"ExtraOrganization",
                [](World& w) {
                  return chain_of(w.ca.issue(w.key.get(), modified(w, [](CertSpec& s) { s.subject.organizations.push_back("system:masters"); })));
                },
                "subject O"},
        BadCase{"MissingOrganization",
                [](World& w) { return chain_of(w.ca.issue(w.key.get(), modified(w, [](CertSpec& s) { s.subject.organizations.clear(); }))); },
                "subject O"},
        BadCase{"ExtraSubjectField",
                [](World& w) { return chain_of(w.ca.issue(w.key.get(), modified(w, [](CertSpec& s) { s.extra_subject_fields = {"OU=ops"}; }))); },
                "unexpected fields: OU"},
        BadCase{"ServerAuthForAClient",
                [](World& w) { return chain_of(w.ca.issue(w.key.get(), modified(w, [](CertSpec& s) { s.ext_key_usages = {"server auth"}; }))); },
                "lacks client auth"},
        BadCase{"NoExtendedKeyUsage",
                [](World& w) { return chain_of(w.ca.issue(w.key.get(), modified(w, [](CertSpec& s) { s.ext_key_usages.clear(); }))); },
                "lacks client auth"},
        BadCase{"CaCertificate",
                [](World& w) { return chain_of(w.ca.issue(w.key.get(), modified(w, [](CertSpec& s) { s.is_ca = true; }))); }, "CA certificate"},
        BadCase{"ClientWithSan",
                [](World& w) { return chain_of(w.ca.issue(w.key.get(), modified(w, [](CertSpec& s) { s.dns_names = {"n1"}; }))); },
                "no subject alternative names"},
        BadCase{"ServingMissingIp",
                [](World& w) {
                  return chain_of(w.ca.issue(w.key.get(), modified(w, [](CertSpec& s) {
                    s.ext_key_usages = {"server auth"};
                    s.dns_names = {"n1"};
                  })));
                },
                "IP addresses are [none]", Usage::ServerAuth},
        BadCase{"ServingExtraDns",
                [](World& w) {
                  return chain_of(w.ca.issue(w.key.get(), modified(w, [](CertSpec& s) {
                    s.ext_key_usages = {"server auth"};
                    s.dns_names = {"n1", "evil.example"};
                    s.ip_addresses = {"10.0.0.1"};
                  })));
                },
                "DNS names are [n1, evil.example]", Usage::ServerAuth},
        BadCase{"SignedByAnotherCa", [](World& w) { return chain_of(w.other_ca.issue(w.key.get(), w.client_spec())); },
                "does not chain to the cluster CA"},
        BadCase{"IntermediateMissing", [](World& w) { return chain_of(w.intermediate.issue(w.key.get(), w.client_spec())); },
                "does not chain to the cluster CA"},
        BadCase{"Expired",
                [](World& w) {
                  return chain_of(w.ca.issue(w.key.get(), modified(w, [&w](CertSpec& s) {
                    s.not_before = w.now - 48h;
                    s.not_after = w.now - 1h;
                  })));
                },
                "expired"},
        BadCase{"NotYetValidBeyondSkew",
                [](World& w) {
                  return chain_of(w.ca.issue(w.key.get(), modified(w, [&w](CertSpec& s) { s.not_before = w.now + 1h; })));
                },
                "not valid yet"},
        BadCase{"EmptyChain", [](World&) { return std::vector<ossl::X509Ptr>{}; }, "no certificate"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return i.param.name; });

}  // namespace
}  // namespace kcd::rotation
