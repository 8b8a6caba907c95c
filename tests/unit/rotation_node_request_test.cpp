// The agent's decisions about its own requests: what a node asks for, whether a CSR found on
// the server is ours, and when an installed certificate must be replaced.
#include "rotation/node_request.hpp"

#include "rotation/key.hpp"
#include "tests/support/test_ca.hpp"

#include <gtest/gtest.h>

namespace kcd::rotation {
namespace {

using namespace std::chrono_literals;

// One CA and two keys for every test (key generation dominates the cost).
struct World {
  NodeIdentity node{"worker-1", {"worker-1"}, {"10.0.0.5"}, KeyAlgorithm::EcdsaP256};
  testing::TestCa ca = testing::TestCa::create_root("kubernetes");
  ossl::PKeyPtr key = generate_key(KeyAlgorithm::EcdsaP256);
  ossl::PKeyPtr other_key = generate_key(KeyAlgorithm::EcdsaP256);
  SysTime now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());

  std::vector<ossl::X509Ptr> issued(CertKind kind, EVP_PKEY* for_key, const NodeIdentity& as) const {
    const auto request = request_for(kind, as);
    testing::CertSpec s;
    s.subject = request.subject;
    s.dns_names = request.dns_names;
    s.ip_addresses = request.ip_addresses;
    s.ext_key_usages = {kind == CertKind::Client ? "client auth" : "server auth"};
    s.key_usages = {"digital signature", "key encipherment"};
    s.not_before = now - 5min;
    s.not_after = now + 24h;
    std::vector<ossl::X509Ptr> chain;
    chain.push_back(ca.issue(for_key, s));
    return chain;
  }
  std::vector<ossl::X509Ptr> anchors() const {
    std::vector<ossl::X509Ptr> a;
    X509_up_ref(ca.cert());
    a.emplace_back(ca.cert());
    return a;
  }
};

const World& world() {
  static const World w;
  return w;
}

TEST(NodeRequest, ClientAsksForTheNodeNameWithoutSans) {
  const auto r = request_for(CertKind::Client, world().node);
  EXPECT_EQ(r.subject.common_name, "system:node:worker-1");
  EXPECT_EQ(r.subject.organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_TRUE(r.dns_names.empty());
  EXPECT_TRUE(r.ip_addresses.empty());
  EXPECT_EQ(usages_for(CertKind::Client).back(), "client auth");
}

TEST(NodeRequest, ServingAsksForTheConfiguredSans) {
  const auto r = request_for(CertKind::Serving, world().node);
  EXPECT_EQ(r.dns_names, std::vector<std::string>{"worker-1"});
  EXPECT_EQ(r.ip_addresses, std::vector<std::string>{"10.0.0.5"});
  EXPECT_EQ(usages_for(CertKind::Serving).back(), "server auth");
}

TEST(VerifyOurs, OurRequestIsOursWhateverTheUsageOrder) {
  const auto& w = world();
  const auto pem = *build_csr_pem(w.key.get(), request_for(CertKind::Client, w.node));
  std::vector<std::string> usages = usages_for(CertKind::Client);
  std::reverse(usages.begin(), usages.end());
  EXPECT_TRUE(
      verify_ours(CertKind::Client, w.node, w.key.get(), {pem, signer_name(CertKind::Client), usages}));
}

TEST(VerifyOurs, NamesWhatDiffers) {
  const auto& w = world();
  const auto pem = *build_csr_pem(w.key.get(), request_for(CertKind::Client, w.node));
  const auto& usages = usages_for(CertKind::Client);
  EXPECT_EQ(
      verify_ours(CertKind::Client, w.node, w.other_key.get(), {pem, signer_name(CertKind::Client), usages})
          .error()
          .message,
      "its public key is not our pending key");
  NodeIdentity renamed = w.node;
  renamed.node_name = "worker-2";
  EXPECT_EQ(verify_ours(CertKind::Client, renamed, w.key.get(), {pem, signer_name(CertKind::Client), usages})
                .error()
                .message,
            "its subject differs");
  EXPECT_EQ(verify_ours(CertKind::Client, w.node, w.key.get(), {pem, signer_name(CertKind::Serving), usages})
                .error()
                .message,
            "its signer is kubernetes.io/kubelet-serving");
  EXPECT_EQ(verify_ours(CertKind::Client, w.node, w.key.get(),
                        {pem, signer_name(CertKind::Client), {"client auth"}})
                .error()
                .message,
            "its usages differ");
  EXPECT_NE(
      verify_ours(CertKind::Client, w.node, w.key.get(), {"garbage", signer_name(CertKind::Client), usages})
          .error()
          .message.find("its request does not parse"),
      std::string::npos);
}

TEST(VerifyUsable, AValidCertificateIsKept) {
  const auto& w = world();
  const auto chain = w.issued(CertKind::Client, w.key.get(), w.node);
  EXPECT_TRUE(verify_usable(CertKind::Client, w.node, chain, w.key.get(), w.now + 24h, w.anchors(), w.now));
  // Without the cluster CA the chain cannot be checked: kept.
  EXPECT_TRUE(verify_usable(CertKind::Client, w.node, chain, w.key.get(), w.now + 24h, {}, w.now));
}

TEST(VerifyUsable, ExpiredAnotherAlgorithmOrAnotherNameMustBeReplaced) {
  const auto& w = world();
  const auto chain = w.issued(CertKind::Client, w.key.get(), w.node);
  EXPECT_EQ(verify_usable(CertKind::Client, w.node, chain, w.key.get(), w.now, w.anchors(), w.now)
                .error()
                .message.rfind("certificate expired at ", 0),
            0u);
  NodeIdentity rsa = w.node;
  rsa.key_algorithm = KeyAlgorithm::Rsa2048;
  EXPECT_NE(verify_usable(CertKind::Client, rsa, chain, w.key.get(), w.now + 24h, w.anchors(), w.now)
                .error()
                .message.find("configured keyAlgorithm is"),
            std::string::npos);
  NodeIdentity renamed = w.node;
  renamed.node_name = "worker-2";
  EXPECT_FALSE(verify_usable(CertKind::Client, renamed, chain, w.key.get(), w.now + 24h, w.anchors(), w.now));
}

TEST(VerifyUsable, ServingSansMustMatchTheConfiguration) {
  const auto& w = world();
  const auto chain = w.issued(CertKind::Serving, w.key.get(), w.node);
  EXPECT_TRUE(verify_usable(CertKind::Serving, w.node, chain, w.key.get(), w.now + 24h, w.anchors(), w.now));
  NodeIdentity moved = w.node;
  moved.serving_ips = {"10.0.0.6"};
  EXPECT_FALSE(verify_usable(CertKind::Serving, moved, chain, w.key.get(), w.now + 24h, w.anchors(), w.now));
}

}  // namespace
}  // namespace kcd::rotation
