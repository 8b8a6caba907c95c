// CA bundles: only real CAs valid now are trusted, and how a node follows a bundle through
// kubeadm's CA rotation (grow, renew, drop after the overlap; a wholesale swap refused).
#include "rotation/ca_bundle.hpp"
#include "rotation/key.hpp"
#include "tests/support/test_ca.hpp"

#include <gtest/gtest.h>

namespace kcd::rotation {
namespace {

using namespace std::chrono_literals;
using testing::CertSpec;
using testing::TestCa;
using testing::to_pem;

const SysTime kNow = std::chrono::system_clock::now();

CaBundle must(const std::string& pem) {
  auto b = check_ca_bundle(pem, "test bundle", kNow);
  EXPECT_TRUE(b) << (b ? "" : b.error().format());
  return b ? std::move(*b) : CaBundle{};
}

std::string refusal(const std::string& pem, SysTime at = kNow) {
  auto b = check_ca_bundle(pem, "/etc/kubernetes/kubelet.conf", at);
  EXPECT_FALSE(b) << "accepted";
  if (b) return {};
  EXPECT_EQ(b.error().kind, ErrorKind::Refused);
  EXPECT_EQ(b.error().format().rfind("/etc/kubernetes/kubelet.conf: ", 0), 0u) << b.error().format();
  return b.error().format();
}

ossl::X509Ptr leaf_of(const TestCa& ca, bool is_ca = false, bool omit_bc = false) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  CertSpec spec;
  spec.subject.common_name = is_ca ? "other-ca" : "system:node:worker-1";
  spec.is_ca = is_ca;
  spec.omit_basic_constraints = omit_bc;
  spec.not_before = kNow - 1h;
  spec.not_after = kNow + 24h;
  return ca.issue(key.get(), spec);
}

TEST(CaBundle, AcceptsRealCasValidNow) {
  const TestCa a = TestCa::create_root("kubernetes");
  const TestCa b = TestCa::create_root("kubernetes-new", KeyAlgorithm::EcdsaP256);
  auto bundle = must(a.cert_pem() + "\n" + b.cert_pem());
  ASSERT_EQ(bundle.certs.size(), 2u);
  EXPECT_EQ(bundle.info[1].common_name, "kubernetes-new");
  EXPECT_EQ(bundle.pem, a.cert_pem() + b.cert_pem());
}

TEST(CaBundle, RefusesWhatIsNotARealCaValidNow) {
  const TestCa a = TestCa::create_root("kubernetes");
  EXPECT_NE(refusal("").find("holds no PEM certificate"), std::string::npos);
  EXPECT_NE(refusal("not a bundle at all\n").find("holds no PEM certificate"), std::string::npos);
  // A leaf (CA:FALSE) and a certificate without basicConstraints.
  auto leaf = refusal(a.cert_pem() + to_pem(leaf_of(a).get()));
  EXPECT_NE(leaf.find("certificate 2 of 2 in the CA bundle, CN=system:node:worker-1"), std::string::npos)
      << leaf;
  EXPECT_NE(leaf.find("is not a CA"), std::string::npos) << leaf;
  EXPECT_NE(leaf.find("nothing was written"), std::string::npos) << leaf;
  EXPECT_NE(refusal(to_pem(leaf_of(a, false, true).get())).find("is not a CA"), std::string::npos);
  // Expired and not yet valid (the CA is valid from an hour ago for 10 years).
  EXPECT_NE(refusal(a.cert_pem(), kNow + 24h * 3651).find("expired on"), std::string::npos);
  EXPECT_NE(refusal(a.cert_pem(), kNow - 24h).find("is not valid before"), std::string::npos);
  // A key or another block in a bundle.
  auto key = refusal(a.cert_pem() + a.key_pem());
  EXPECT_NE(key.find("PEM block 2 of the CA bundle is a \"RSA PRIVATE KEY\", not a CERTIFICATE"),
            std::string::npos)
      << key;
  EXPECT_EQ(key.find("MII"), std::string::npos) << "key material in the error";
  // A label from outside is escaped in the error: no control character reaches a terminal.
  auto odd = refusal(a.cert_pem() + "-----BEGIN X\x1b[31m\nY-----\nAA==\n-----END X-----\n");
  EXPECT_EQ(odd.find('\x1b'), std::string::npos) << odd;
  EXPECT_EQ(odd.find('\n'), std::string::npos) << odd;
  // A block that does not parse.
  EXPECT_NE(refusal(a.cert_pem() + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .find("does not parse"),
            std::string::npos);
}

TEST(CaBundle, FollowsTheDocumentedRotation) {
  const TestCa old_ca = TestCa::create_root("kubernetes");
  const TestCa new_ca = TestCa::create_root("kubernetes", KeyAlgorithm::EcdsaP256);
  const auto old_only = must(old_ca.cert_pem());
  const auto both = must(old_ca.cert_pem() + new_ca.cert_pem());
  const auto new_only = must(new_ca.cert_pem());

  EXPECT_EQ(assess_bundle_change(old_only, old_only).verdict, BundleChange::Verdict::Same);
  EXPECT_EQ(assess_bundle_change(both, must(new_ca.cert_pem() + old_ca.cert_pem())).verdict,
            BundleChange::Verdict::Same);

  const auto grow = assess_bundle_change(old_only, both);
  EXPECT_EQ(grow.verdict, BundleChange::Verdict::Follow);
  ASSERT_EQ(grow.added.size(), 1u);
  EXPECT_TRUE(grow.dropped.empty());

  const auto drop = assess_bundle_change(both, new_only);
  EXPECT_EQ(drop.verdict, BundleChange::Verdict::Follow);
  EXPECT_TRUE(drop.added.empty());
  ASSERT_EQ(drop.dropped.size(), 1u);
  EXPECT_EQ(drop.dropped_sha256, std::vector<std::string>{old_only.info[0].sha256_fingerprint});
  EXPECT_EQ(grow.added_sha256, std::vector<std::string>{new_only.info[0].sha256_fingerprint});
  EXPECT_NE(drop.dropped[0].find("CN=kubernetes (sha256 "), std::string::npos);

  const auto swap = assess_bundle_change(old_only, new_only);
  EXPECT_EQ(swap.verdict, BundleChange::Verdict::Refuse);
  EXPECT_NE(swap.why.find("shares no CA"), std::string::npos);
}

TEST(CaBundle, ACaNameFromOutsideIsEscaped) {
  const TestCa ca = TestCa::create_root("evil\ninjected\x1b[2J", KeyAlgorithm::EcdsaP256);
  const std::string name = describe_ca(must(ca.cert_pem()).info[0]);
  EXPECT_EQ(name.find('\n'), std::string::npos) << name;
  EXPECT_EQ(name.find('\x1b'), std::string::npos) << name;
  EXPECT_EQ(name.rfind("CN=evil", 0), 0u) << name;
}

TEST(CaBundle, ARenewedCaReplacesTheOldOne) {
  const TestCa ca = TestCa::create_root("kubernetes", KeyAlgorithm::EcdsaP256);
  CertSpec spec;
  spec.subject.common_name = "kubernetes";
  spec.is_ca = true;
  spec.key_usages = {"cert sign"};
  spec.not_before = kNow - 1h;
  spec.not_after = kNow + 24h * 7300;
  // The same key, a new certificate: what `kubeadm certs renew` style CA renewal produces.
  auto renewed = ca.issue(ca.key(), spec);
  const auto change = assess_bundle_change(must(ca.cert_pem()), must(to_pem(renewed.get())));
  EXPECT_EQ(change.verdict, BundleChange::Verdict::Follow);
  EXPECT_TRUE(change.dropped.empty());
  EXPECT_EQ(change.added.size(), 1u);
}

TEST(CaBundle, IssuedByFollowsIntermediates) {
  const TestCa a = TestCa::create_root("a");
  const TestCa b = TestCa::create_root("b");
  const TestCa mid = a.create_intermediate("a-intermediate");
  std::vector<ossl::X509Ptr> direct;
  direct.push_back(leaf_of(a));
  EXPECT_TRUE(issued_by(direct, {a.cert()}));
  EXPECT_FALSE(issued_by(direct, {b.cert()}));
  EXPECT_TRUE(issued_by(direct, {b.cert(), a.cert()}));
  std::vector<ossl::X509Ptr> via;
  via.push_back(leaf_of(mid));
  via.push_back(ossl::X509Ptr(X509_dup(mid.cert())));
  EXPECT_TRUE(issued_by(via, {a.cert()}));
  EXPECT_TRUE(issued_by(via, {mid.cert()}));
  EXPECT_FALSE(issued_by(via, {b.cert()}));
  EXPECT_FALSE(issued_by({}, {a.cert()}));
}

}  // namespace
}  // namespace kcd::rotation
