// The issued-certificate validator against tables of good and bad certificates made by a test CA.
#include "rotation/validate.hpp"

#include "base/rfc3339.hpp"
#include "rotation/key.hpp"
#include "tests/support/test_ca.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace kcd::rotation {
namespace {

using namespace std::chrono_literals;
using testing::CertSpec;
using testing::TestCa;

// Built once: key generation dominates the cost, and no test changes it.
struct World {
  TestCa ca = TestCa::create_root("kubernetes");
  TestCa other_ca = TestCa::create_root("someone-else");
  TestCa intermediate = ca.create_intermediate("kubernetes-intermediate");
  ossl::PKeyPtr key = generate_key(KeyAlgorithm::EcdsaP256);
  ossl::PKeyPtr other_key = generate_key(KeyAlgorithm::EcdsaP256);
  ossl::PKeyPtr rsa_key = generate_key(KeyAlgorithm::Rsa2048);
  // Whole seconds: certificate times have no fractions, and the boundary rows compare exactly.
  SysTime now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());

  // What the kube-apiserver-client-kubelet signer issues: backdated 5 minutes.
  CertSpec client_spec() const {
    CertSpec s;
    s.subject = {"system:node:n1", {"system:nodes"}};
    s.ext_key_usages = {"client auth"};
    s.key_usages = {"digital signature", "key encipherment"};
    s.not_before = now - 5min;
    s.not_after = now + 24h;
    return s;
  }

  CertSpec serving_spec() const {
    CertSpec s = client_spec();
    s.ext_key_usages = {"server auth"};
    s.dns_names = {"n1", "n1.example"};
    s.ip_addresses = {"10.0.0.1", "fd00::1"};
    return s;
  }

  ValidationPolicy policy(Usage usage = Usage::ClientAuth) const {
    ValidationPolicy p;
    p.expected_key = key.get();
    p.expected_subject = {"system:node:n1", {"system:nodes"}};
    p.usage = usage;
    if (usage == Usage::ServerAuth) {
      p.expected_dns = {"n1", "n1.example"};
      p.expected_ips = {"10.0.0.1", "fd00::1"};
    }
    p.trust_anchors = {ca.cert()};
    p.now = now;
    return p;
  }
};

World& world() {
  static World w;
  return w;
}

std::vector<ossl::X509Ptr> chain_of(ossl::X509Ptr leaf, const TestCa* intermediate = nullptr) {
  std::vector<ossl::X509Ptr> v;
  v.push_back(std::move(leaf));
  if (intermediate != nullptr) v.emplace_back(X509_dup(intermediate->cert()));
  return v;
}

CertSpec client_with(const std::function<void(CertSpec&)>& change) {
  CertSpec s = world().client_spec();
  change(s);
  return s;
}

CertSpec serving_with(const std::function<void(CertSpec&)>& change) {
  CertSpec s = world().serving_spec();
  change(s);
  return s;
}

TEST(RotationValidate, AcceptsAGoodClientCertificateAndReturnsItsFacts) {
  auto& w = world();
  auto cert = w.ca.issue(w.key.get(), w.client_spec());
  const auto expected = inspect_certificate(cert.get());
  auto result = validate_issued(chain_of(std::move(cert)), w.policy());
  ASSERT_TRUE(result) << result.error().format();
  EXPECT_EQ(result->common_name, "system:node:n1");
  EXPECT_EQ(result->organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_EQ(result->issuer, "CN=kubernetes");
  EXPECT_EQ(result->key_algorithm, "ECDSA P-256");
  EXPECT_EQ(result->ext_key_usages, std::vector<std::string>{"client auth"});
  EXPECT_EQ(result->key_usages, (std::vector<std::string>{"digital signature", "key encipherment"}));
  EXPECT_FALSE(result->is_ca);
  EXPECT_EQ(result->not_before, w.now - 5min);
  EXPECT_EQ(result->not_after, w.now + 24h);
  EXPECT_EQ(result->serial, expected.serial);
  EXPECT_EQ(result->sha256_fingerprint, expected.sha256_fingerprint);
}

struct GoodCase {
  std::string name;
  friend void PrintTo(const GoodCase& c, std::ostream* os) { *os << c.name; }
  std::function<std::vector<ossl::X509Ptr>(World&)> make;
  std::function<void(ValidationPolicy&, World&)> adjust = [](ValidationPolicy&, World&) {};
  Usage usage = Usage::ClientAuth;
};

class RotationValidateAccepts : public ::testing::TestWithParam<GoodCase> {};

TEST_P(RotationValidateAccepts, TheCertificate) {
  auto& w = world();
  const auto& c = GetParam();
  auto policy = w.policy(c.usage);
  c.adjust(policy, w);
  auto result = validate_issued(c.make(w), policy);
  EXPECT_TRUE(result) << c.name << ": " << result.error().format();
}

INSTANTIATE_TEST_SUITE_P(
    Table, RotationValidateAccepts,
    ::testing::Values(
        GoodCase{"TheSignersFiveMinuteBackdate",
                 [](World& w) { return chain_of(w.ca.issue(w.key.get(), w.client_spec())); }},
        GoodCase{"NotBeforeAFewMinutesInOurFuture",  // our clock runs behind the signer's
                 [](World& w) {
                   return chain_of(w.ca.issue(
                       w.key.get(), client_with([&w](CertSpec& s) { s.not_before = w.now + 2min; })));
                 }},
        GoodCase{"NotBeforeExactlyAtTheSkewLimit",
                 [](World& w) {
                   return chain_of(w.ca.issue(
                       w.key.get(), client_with([&w](CertSpec& s) { s.not_before = w.now + 5min; })));
                 }},
        GoodCase{"NotAfterOneSecondFromNow",
                 [](World& w) {
                   return chain_of(
                       w.ca.issue(w.key.get(), client_with([&w](CertSpec& s) { s.not_after = w.now + 1s; })));
                 }},
        GoodCase{"NoBasicConstraintsAtAll",
                 [](World& w) {
                   return chain_of(w.ca.issue(
                       w.key.get(), client_with([](CertSpec& s) { s.omit_basic_constraints = true; })));
                 }},
        GoodCase{"MoreExtendedKeyUsagesThanNeeded",
                 [](World& w) {
                   return chain_of(w.ca.issue(w.key.get(), client_with([](CertSpec& s) {
                                                s.ext_key_usages = {"server auth", "client auth"};
                                              })));
                 }},
        GoodCase{"AnRsaKey", [](World& w) { return chain_of(w.ca.issue(w.rsa_key.get(), w.client_spec())); },
                 [](ValidationPolicy& p, World& w) { p.expected_key = w.rsa_key.get(); }},
        GoodCase{"AChainThroughAnIntermediate",
                 [](World& w) {
                   return chain_of(w.intermediate.issue(w.key.get(), w.client_spec()), &w.intermediate);
                 }},
        // Like Go's x509.Verify: every certificate in the CA bundle is a trust anchor.
        GoodCase{"IssuedByAnIntermediateThatIsInTheCaBundle",
                 [](World& w) { return chain_of(w.intermediate.issue(w.key.get(), w.client_spec())); },
                 [](ValidationPolicy& p, World& w) { p.trust_anchors = {w.intermediate.cert()}; }},
        GoodCase{"ACaBundleWithSeveralCas",
                 [](World& w) { return chain_of(w.ca.issue(w.key.get(), w.client_spec())); },
                 [](ValidationPolicy& p, World& w) {
                   p.trust_anchors = {w.other_ca.cert(), w.ca.cert()};
                 }},
        GoodCase{"AServingCertificateWithTheRequestedSansInAnotherOrder",
                 [](World& w) {
                   return chain_of(w.ca.issue(w.key.get(), serving_with([](CertSpec& s) {
                                                s.dns_names = {"n1.example", "n1"};
                                                s.ip_addresses = {"fd00::1", "10.0.0.1"};
                                              })));
                 },
                 [](ValidationPolicy&, World&) {}, Usage::ServerAuth},
        GoodCase{"AServingCertificateWhoseIpsWereConfiguredInAnotherSpelling",
                 [](World& w) { return chain_of(w.ca.issue(w.key.get(), w.serving_spec())); },
                 [](ValidationPolicy& p, World&) {
                   p.expected_ips = {"10.0.0.1", "FD00:0000::0001"};
                 },
                 Usage::ServerAuth}),
    [](const auto& i) { return i.param.name; });

struct BadCase {
  std::string name;
  friend void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }
  std::function<std::vector<ossl::X509Ptr>(World&)> make;
  std::string fragment;  // the failing fact, as the message must name it
  Usage usage = Usage::ClientAuth;
  std::function<void(ValidationPolicy&, World&)> adjust = [](ValidationPolicy&, World&) {};
};

class RotationValidateRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(RotationValidateRejects, NamingTheFailingFact) {
  auto& w = world();
  const auto& c = GetParam();
  auto policy = w.policy(c.usage);
  c.adjust(policy, w);
  auto result = validate_issued(c.make(w), policy);
  ASSERT_FALSE(result) << c.name << " was accepted";
  EXPECT_NE(result.error().message.find(c.fragment), std::string::npos)
      << c.name << ": " << result.error().format();
  EXPECT_EQ(ERR_peek_error(), 0u) << "errors left on OpenSSL's queue";
}

std::vector<ossl::X509Ptr> client(const std::function<void(CertSpec&)>& change) {
  return chain_of(world().ca.issue(world().key.get(), client_with(change)));
}

std::vector<ossl::X509Ptr> serving(const std::function<void(CertSpec&)>& change) {
  return chain_of(world().ca.issue(world().key.get(), serving_with(change)));
}

INSTANTIATE_TEST_SUITE_P(
    Table, RotationValidateRejects,
    ::testing::Values(
        BadCase{"EmptyChain", [](World&) { return std::vector<ossl::X509Ptr>{}; },
                "no certificate in the response"},
        BadCase{"ElevenCertificates",
                [](World& w) {
                  auto v = client([](CertSpec&) {});
                  while (v.size() < kMaxChainCertificates + 1) v.emplace_back(X509_dup(w.ca.cert()));
                  return v;
                },
                "the chain has 11 certificates, more than the limit of 10"},
        BadCase{"WrongPublicKey",
                [](World& w) { return chain_of(w.ca.issue(w.other_key.get(), w.client_spec())); },
                "public key (ECDSA P-256) is not the key we generated"},
        BadCase{"KeyOfAnotherAlgorithm",
                [](World& w) { return chain_of(w.ca.issue(w.rsa_key.get(), w.client_spec())); },
                "public key (RSA 2048) is not the key we generated for this request (ECDSA P-256)"},
        BadCase{"OtherCommonName",
                [](World&) { return client([](CertSpec& s) { s.subject.common_name = "system:node:n2"; }); },
                "subject CN is \"system:node:n2\", expected \"system:node:n1\""},
        BadCase{"ExtraOrganization",
                [](World&) {
                  return client([](CertSpec& s) { s.subject.organizations.push_back("system:masters"); });
                },
                "subject O is [system:nodes, system:masters], expected [system:nodes]"},
        BadCase{"MissingOrganization",
                [](World&) { return client([](CertSpec& s) { s.subject.organizations.clear(); }); },
                "subject O is [none], expected [system:nodes]"},
        BadCase{"ExtraSubjectField",
                [](World&) { return client([](CertSpec& s) { s.extra_subject_fields = {"OU=ops"}; }); },
                "unexpected fields: OU=ops"},
        BadCase{"SecondCommonName",
                [](World&) {
                  return client([](CertSpec& s) { s.extra_subject_fields = {"CN=system:node:n2"}; });
                },
                "subject has 2 CNs [system:node:n2, system:node:n1]"},
        BadCase{"ServerAuthForAClient",
                [](World&) { return client([](CertSpec& s) { s.ext_key_usages = {"server auth"}; }); },
                "extended key usage is [server auth], which lacks client auth"},
        BadCase{"NoExtendedKeyUsage",
                [](World&) { return client([](CertSpec& s) { s.ext_key_usages.clear(); }); },
                "extended key usage is [none], which lacks client auth"},
        BadCase{"OnlyAnyExtendedKeyUsage",
                [](World&) { return client([](CertSpec& s) { s.ext_key_usages = {"any"}; }); },
                "extended key usage is [any], which lacks client auth"},
        BadCase{"ClientAuthForAServer",
                [](World&) { return serving([](CertSpec& s) { s.ext_key_usages = {"client auth"}; }); },
                "which lacks server auth", Usage::ServerAuth},
        BadCase{"CaCertificate", [](World&) { return client([](CertSpec& s) { s.is_ca = true; }); },
                "CA certificate (basicConstraints CA:TRUE)"},
        BadCase{"ClientWithDnsSan", [](World&) { return client([](CertSpec& s) { s.dns_names = {"n1"}; }); },
                "subject alternative names [DNS:n1]"},
        BadCase{"ClientWithIpSan",
                [](World&) { return client([](CertSpec& s) { s.ip_addresses = {"10.0.0.1"}; }); },
                "subject alternative names [IP:10.0.0.1]"},
        BadCase{"ClientWithEmailSan",
                [](World&) { return client([](CertSpec& s) { s.email_addresses = {"a@n1.example"}; }); },
                "subject alternative names [email:a@n1.example]"},
        BadCase{"ServingMissingDns",
                [](World&) { return serving([](CertSpec& s) { s.dns_names = {"n1"}; }); },
                "DNS names are [n1], requested [n1, n1.example]", Usage::ServerAuth},
        BadCase{"ServingExtraDns",
                [](World&) { return serving([](CertSpec& s) { s.dns_names.push_back("evil.example"); }); },
                "DNS names are [n1, n1.example, evil.example]", Usage::ServerAuth},
        BadCase{"ServingMissingIp",
                [](World&) { return serving([](CertSpec& s) { s.ip_addresses = {"10.0.0.1"}; }); },
                "IP addresses are [10.0.0.1], requested [10.0.0.1, fd00::1]", Usage::ServerAuth},
        BadCase{"ServingOtherIp",
                [](World&) { return serving([](CertSpec& s) {
                               s.ip_addresses = {"10.0.0.2", "fd00::1"};
                             }); },
                "IP addresses are [10.0.0.2, fd00::1]", Usage::ServerAuth},
        BadCase{"ServingWithUriSan",
                [](World&) { return serving([](CertSpec& s) { s.uris = {"spiffe://cluster/n1"}; }); },
                "not requested: [DNS:n1, DNS:n1.example, IP:10.0.0.1, IP:fd00::1, URI:spiffe://cluster/n1]",
                Usage::ServerAuth},
        BadCase{"Expired",
                [](World& w) {
                  return client([&w](CertSpec& s) {
                    s.not_before = w.now - 48h;
                    s.not_after = w.now - 1h;
                  });
                },
                "it has expired (notAfter " + to_rfc3339(world().now - 1h)},
        BadCase{"ExpiresThisVerySecond",
                [](World& w) { return client([&w](CertSpec& s) { s.not_after = w.now; }); },
                "it has expired"},
        BadCase{"NotYetValidBeyondTheSkew",
                [](World& w) { return client([&w](CertSpec& s) { s.not_before = w.now + 1h; }); },
                "not valid yet (notBefore " + to_rfc3339(world().now + 1h)},
        BadCase{"NotYetValidOneSecondBeyondTheSkew",
                [](World& w) { return client([&w](CertSpec& s) { s.not_before = w.now + 5min + 1s; }); },
                "not valid yet"},
        BadCase{"NotYetValidWithoutSkewTolerance",
                [](World& w) { return client([&w](CertSpec& s) { s.not_before = w.now + 1s; }); },
                "not valid yet", Usage::ClientAuth, [](ValidationPolicy& p, World&) { p.clock_skew = 0s; }},
        BadCase{"SignedByAnotherCa",
                [](World& w) { return chain_of(w.other_ca.issue(w.key.get(), w.client_spec())); },
                "does not chain to the cluster CA: unable to get local issuer certificate (issuer "
                "CN=someone-else)"},
        BadCase{"IntermediateMissingFromTheChain",
                [](World& w) { return chain_of(w.intermediate.issue(w.key.get(), w.client_spec())); },
                "does not chain to the cluster CA: unable to get local issuer certificate (issuer "
                "CN=kubernetes-intermediate)"},
        BadCase{"IntermediateFromAnotherCa",
                [](World& w) {
                  static TestCa foreign = w.other_ca.create_intermediate("kubernetes-intermediate");
                  return chain_of(foreign.issue(w.key.get(), w.client_spec()), &foreign);
                },
                "does not chain to the cluster CA"},
        BadCase{"NoClusterCaToCheckAgainst",
                [](World& w) { return chain_of(w.ca.issue(w.key.get(), w.client_spec())); },
                "no cluster CA certificate", Usage::ClientAuth,
                [](ValidationPolicy& p, World&) { p.trust_anchors.clear(); }},
        // The first failing fact in the documented order is the one reported.
        BadCase{"ExpiredAndFromAnotherCaReportsTheExpiry",
                [](World& w) {
                  CertSpec s = w.client_spec();
                  s.not_after = w.now - 1h;
                  s.not_before = w.now - 2h;
                  return chain_of(w.other_ca.issue(w.key.get(), s));
                },
                "it has expired"},
        BadCase{"WrongKeyAndWrongSubjectReportsTheKey",
                [](World& w) {
                  CertSpec s = w.client_spec();
                  s.subject.common_name = "system:node:n2";
                  return chain_of(w.ca.issue(w.other_key.get(), s));
                },
                "public key"}),
    [](const auto& i) { return i.param.name; });

}  // namespace
}  // namespace kcd::rotation
