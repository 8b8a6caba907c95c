// What a node does with the bundle kube-public/cluster-info publishes: the decision alone
// (decide_ca_follow), over real certificates, for every step of kubeadm's CA rotation and for
// what must not be followed.
#include "daemon/cluster_ca.hpp"

#include "base/base64.hpp"
#include "rotation/key.hpp"
#include "tests/support/test_ca.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kcd::daemon {
namespace {

using Action = CaFollowDecision::Action;
using rotation::CertKind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const auto kNow = std::chrono::system_clock::now();
const config::BootstrapToken kToken{"abcdef", "0123456789abcdef"};

class DecideCaFollow : public ::testing::Test {
 protected:
  static rotation::CaBundle bundle(const std::string& pem) {
    auto b = rotation::check_ca_bundle(pem, "test", kNow);
    EXPECT_TRUE(b) << (b ? "" : b.error().format());
    return b ? std::move(*b) : rotation::CaBundle{};
  }
  // cluster-info's data publishing `pem`, signed with kToken.
  static std::map<std::string, std::string> published(const std::string& pem) {
    const std::string kc =
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: " + base64_encode(pem) +
        "\n    server: https://127.0.0.1:6443\n  name: \"\"\n";
    return {{"kubeconfig", kc}, {"jws-kubeconfig-abcdef", config::detached_jws(kc, kToken)}};
  }
  static NodeCertificate cert_from(CertKind kind, const testing::TestCa& ca) {
    auto key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
    testing::CertSpec spec;
    spec.subject.common_name = "system:node:worker-1";
    spec.not_before = kNow - std::chrono::hours(1);
    spec.not_after = kNow + std::chrono::hours(24);
    NodeCertificate c{kind, {}};
    c.chain.push_back(ca.issue(key.get(), spec));
    return c;
  }
  CaFollowDecision decide(const std::string& trusted, const std::map<std::string, std::string>& data,
                          const std::vector<const testing::TestCa*>& issuers, bool with_token = true) {
    std::vector<NodeCertificate> node;
    node.push_back(cert_from(CertKind::Client, *issuers[0]));
    node.push_back(cert_from(CertKind::Serving, *issuers[1]));
    return decide_ca_follow(bundle(trusted), data, with_token ? std::optional(kToken) : std::nullopt, node,
                            kNow);
  }
  const testing::TestCa old_ = testing::TestCa::create_root("kubernetes", KeyAlgorithm::EcdsaP256);
  const testing::TestCa new_ = testing::TestCa::create_root("kubernetes", KeyAlgorithm::EcdsaP256);
};

TEST_F(DecideCaFollow, TheSameBundleChangesNothing) {
  const auto d = decide(old_.cert_pem(), published(old_.cert_pem()), {&old_, &old_});
  EXPECT_EQ(d.action, Action::None);
  EXPECT_TRUE(d.renew.empty());
}

TEST_F(DecideCaFollow, AGrownBundleIsAppliedAndTheOldCasCertificatesReissued) {
  const std::string both = old_.cert_pem() + new_.cert_pem();
  // The client certificate came from the new signer already; the serving one from the old CA.
  const auto d = decide(old_.cert_pem(), published(both), {&new_, &old_});
  EXPECT_EQ(d.action, Action::Apply);
  EXPECT_EQ(d.bundle_pem, both);
  EXPECT_THAT(d.renew, ElementsAre(CertKind::Serving));
  EXPECT_THAT(d.message, HasSubstr("added CN=kubernetes (sha256 "));
}

TEST_F(DecideCaFollow, ADropIsHeldWhileACertificateChainsOnlyToTheDroppedCa) {
  const std::string both = old_.cert_pem() + new_.cert_pem();
  const auto held = decide(both, published(new_.cert_pem()), {&new_, &old_});
  EXPECT_EQ(held.action, Action::Hold);
  EXPECT_THAT(held.renew, ElementsAre(CertKind::Serving));
  EXPECT_THAT(held.message, HasSubstr("which issued this node's serving certificate"));

  const auto applied = decide(both, published(new_.cert_pem()), {&new_, &new_});
  EXPECT_EQ(applied.action, Action::Apply);
  EXPECT_EQ(applied.bundle_pem, new_.cert_pem());
  EXPECT_TRUE(applied.renew.empty());
  EXPECT_THAT(applied.message, HasSubstr("dropped CN=kubernetes"));
}

TEST_F(DecideCaFollow, AWholesaleSwapIsRefused) {
  const auto d = decide(old_.cert_pem(), published(new_.cert_pem()), {&old_, &old_});
  EXPECT_EQ(d.action, Action::Refuse);
  EXPECT_THAT(d.message, HasSubstr("kube-public/cluster-info: the published bundle shares no CA"));
  EXPECT_TRUE(d.bundle_pem.empty());
}

TEST_F(DecideCaFollow, TheTokensSignatureIsCheckedWhenThereIsAToken) {
  auto data = published(old_.cert_pem() + new_.cert_pem());
  data["jws-kubeconfig-abcdef"] = config::detached_jws(data["kubeconfig"], {"abcdef", "ffffffffffffffff"});
  const auto forged = decide(old_.cert_pem(), data, {&old_, &old_});
  EXPECT_EQ(forged.action, Action::Refuse);
  EXPECT_THAT(forged.message, HasSubstr("does not sign data.kubeconfig"));
  data.erase("jws-kubeconfig-abcdef");
  EXPECT_THAT(decide(old_.cert_pem(), data, {&old_, &old_}).message, HasSubstr("has no signature"));
  // Without a token at hand, the connection verified with the trusted bundle is the check.
  EXPECT_EQ(decide(old_.cert_pem(), data, {&old_, &old_}, false).action, Action::Apply);
}

TEST_F(DecideCaFollow, APublishedBundleThatIsNotARealCaIsRefused) {
  auto key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
  testing::CertSpec leaf;
  leaf.subject.common_name = "not-a-ca";
  leaf.not_before = kNow - std::chrono::hours(1);
  leaf.not_after = kNow + std::chrono::hours(1);
  const auto d =
      decide(old_.cert_pem(), published(old_.cert_pem() + testing::to_pem(old_.issue(key.get(), leaf).get())),
             {&old_, &old_});
  EXPECT_EQ(d.action, Action::Refuse);
  EXPECT_THAT(d.message, HasSubstr("kube-public/cluster-info (data.kubeconfig certificate-authority-data)"));
  EXPECT_THAT(d.message, HasSubstr("is not a CA"));
  const auto garbage = decide(old_.cert_pem(), {{"kubeconfig", "clusters: 7\n"}}, {&old_, &old_}, false);
  EXPECT_EQ(garbage.action, Action::Refuse);
  EXPECT_THAT(garbage.message, HasSubstr("names no cluster"));
}

}  // namespace
}  // namespace kcd::daemon
