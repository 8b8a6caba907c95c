// The documented cluster CA rotation walked end to end against devapi, with the real daemon:
// the bundle grows (kubelet.conf and the client CA file follow, the kubelet's restart is asked for),
// the node's certificates are re-issued by the new CA before the old one is dropped, and after
// the drop every file verifies against the new CA alone. A watcher checks all along that
// kubelet.conf can verify the certificate the API server presents.
#include "config/kubeconfig.hpp"
#include "rotation/ca_bundle.hpp"
#include "tests/integration/harness.hpp"
#include "tests/support/local_clients.hpp"

#include <atomic>
#include <cstdlib>
#include <sstream>

namespace kcd::testing {
namespace {

class ClusterCaRotation : public AgentHarness {
 protected:
  void SetUp() override {
    devapi::Options o;
    o.serving_approver = devapi::ServingApprover::Strict;
    start_devapi(o);
  }

  std::string kubeconfig_ca() const {
    auto kc = config::load_kubeconfig(kubeconfig());
    return kc ? kc->ca_pem : std::string();
  }
  static std::vector<std::string> fingerprints(const std::string& pem) {
    std::vector<std::string> out;
    auto certs = rotation::parse_certificates_pem(pem, "bundle", rotation::kMaxBundleCertificates);
    if (!certs) return out;
    for (const auto& c : *certs) out.push_back(rotation::inspect_certificate(c.get()).sha256_fingerprint);
    return out;
  }
  // The installed certificate of `prefix` was issued by a CA in `bundle_pem`.
  bool issued_from(const std::string& prefix, const std::string& bundle_pem) const {
    const fs::path link = cert_dir() / (prefix + "-current.pem");
    auto chain = rotation::parse_certificates_pem(read_text(link), link.string());
    auto cas = rotation::parse_certificates_pem(bundle_pem, "bundle", rotation::kMaxBundleCertificates);
    if (!chain || !cas) return false;
    std::vector<X509*> anchors;
    for (const auto& c : *cas) anchors.push_back(c.get());
    return rotation::issued_by(*chain, anchors);
  }
  // "kubelet restart failed" lines (no system bus here) caused by a cluster CA change.
  std::size_t ca_restarts(const std::string& err) const {
    std::size_t n = 0;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);)
      if (line.find("kubelet restart") != std::string::npos &&
          line.find("cluster CA changed") != std::string::npos)
        ++n;
    return n;
  }
};

TEST_F(ClusterCaRotation, TheNodeFollowsTheDocumentedRotation) {
  write_config("kubeletRestart: auto\n");
  const int port = free_port();
  auto d = daemon({"--metrics-address", "127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(eventually([&] {
    return current("kubelet-client") && current("kubelet-server") && fs::exists(client_ca()) &&
           fs::exists(kubeconfig());
  })) << d->err();
  const std::string old_bundle = server_->bundle_pem();
  EXPECT_EQ(fingerprints(kubeconfig_ca()), fingerprints(old_bundle));
  EXPECT_EQ(fingerprints(read_text(client_ca())), fingerprints(old_bundle));

  // All along: kubelet.conf trusts the CA of the certificate the API server presents.
  std::atomic<bool> done{false};
  std::atomic<int> samples{0}, violations{0};
  std::string violation;
  std::thread watcher([&] {
    while (!done) {
      const auto trusted = fingerprints(kubeconfig_ca());
      const auto serving = fingerprints(server_->serving_ca_pem());
      if (!trusted.empty() && !serving.empty()) {
        ++samples;
        if (std::find(trusted.begin(), trusted.end(), serving.front()) == trusted.end()) {
          if (violations++ == 0) violation = "kubelet.conf does not trust the serving CA " + serving.front();
        }
      }
      std::this_thread::sleep_for(5ms);
    }
  });

  // 1. The bundle grows by the new CA, and the signer switches to it.
  ASSERT_TRUE(server_->add_ca());
  ASSERT_TRUE(server_->switch_signer());
  const std::string both = server_->bundle_pem();
  const std::string new_ca = server_->ca_pem();
  ASSERT_EQ(fingerprints(both).size(), 2u);
  // A rotation is one of the moments the node reads cluster-info.
  auto renewed = run("renew", {"client", "--once", "--timeout", "20s"});
  EXPECT_EQ(renewed.exit_code, 0) << renewed.err;
  EXPECT_TRUE(eventually([&] {
    return fingerprints(kubeconfig_ca()) == fingerprints(both) &&
           fingerprints(read_text(client_ca())) == fingerprints(both);
  })) << d->err();
  // Re-issued by the new CA, the serving certificate without being asked.
  EXPECT_TRUE(eventually([&] { return issued_from("kubelet-server", new_ca); })) << d->err();
  EXPECT_TRUE(issued_from("kubelet-client", new_ca));
  // No system bus here: the restart fails, stays owed (daemon/restart_owed) and is tried again
  // by the next pass; with a bus it is done once (ClientCaTest in daemon_kubelet_change_test).
  EXPECT_TRUE(eventually([&] { return ca_restarts(d->err()) >= 1; })) << d->err();
  const std::size_t first_restarts = ca_restarts(d->err());
  EXPECT_NE(d->err().find("cluster CA bundle followed"), std::string::npos);

  // 2. The API server presents a certificate from the new CA, and the old CA is dropped.
  ASSERT_TRUE(server_->switch_serving());
  ASSERT_TRUE(server_->drop_ca());
  const std::string new_only = server_->bundle_pem();
  ASSERT_EQ(fingerprints(new_only), fingerprints(new_ca));
  renewed = run("renew", {"client", "--once", "--timeout", "20s"});
  EXPECT_EQ(renewed.exit_code, 0) << renewed.err;
  EXPECT_TRUE(eventually([&] {
    return fingerprints(kubeconfig_ca()) == fingerprints(new_only) &&
           fingerprints(read_text(client_ca())) == fingerprints(new_only);
  })) << d->err();
  // Every file verifies against the new CA alone.
  EXPECT_TRUE(issued_from("kubelet-client", new_only));
  EXPECT_TRUE(issued_from("kubelet-server", new_only));
  EXPECT_TRUE(eventually([&] { return ca_restarts(d->err()) > first_restarts; })) << d->err();

  const std::string metrics = http_get(port, "/metrics");
  EXPECT_NE(metrics.find("kubelet_certd_cluster_ca_checks_total{result=\"followed\"} 2"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("kubelet_certd_cluster_ca_checks_total{result=\"refused\"} 0"), std::string::npos);
  EXPECT_NE(metrics.find("kubelet_certd_cluster_ca_last_followed_timestamp_seconds "), std::string::npos);

  done = true;
  watcher.join();
  EXPECT_EQ(violations.load(), 0) << violation;
  EXPECT_GT(samples.load(), 20);
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_for(5s), std::optional<int>(0));
  collect(*d);
  // One re-issue per certificate for the change, not a loop.
  EXPECT_LE(server_->csrs_created(), 6);
}

TEST_F(ClusterCaRotation, ABundleNotSignedWithTheNodesTokenIsNotFollowed) {
  write_config("kubeletRestart: auto\nserving: false\n");
  auto d = daemon();
  ASSERT_TRUE(eventually([&] { return current("kubelet-client") && fs::exists(client_ca()); })) << d->err();
  const std::string old_bundle = server_->bundle_pem();
  // The bootstrap kubeconfig's token now has another secret: the published JWS does not match.
  std::string boot = read_text(server_->bootstrap_kubeconfig_path());
  const std::string token = server_->bootstrap_token();
  boot.replace(boot.find(token), token.size(), token.substr(0, 7) + "zzzzzzzzzzzzzzzz");
  const fs::path forged = tmp_ / "bootstrap-other-secret.conf";
  std::ofstream(forged) << boot;
  d->signal(SIGTERM);
  ASSERT_EQ(d->wait_for(5s), std::optional<int>(0));
  collect(*d);
  ASSERT_TRUE(server_->add_ca());
  auto again = daemon({"--bootstrap-kubeconfig", forged.string()});
  EXPECT_TRUE(eventually([&] {
    return again->err().find("cluster CA bundle not followed") != std::string::npos;
  })) << again->err();
  EXPECT_NE(again->err().find("does not sign data.kubeconfig"), std::string::npos);
  EXPECT_EQ(fingerprints(kubeconfig_ca()), fingerprints(old_bundle)) << "nothing written";
  EXPECT_EQ(fingerprints(read_text(client_ca())), fingerprints(old_bundle));
  again->signal(SIGTERM);
  EXPECT_EQ(again->wait_for(5s), std::optional<int>(0));
  collect(*again);
}

// A cluster without kube-public/cluster-info (not every installer publishes it): nothing is
// followed, nothing written, and the check is counted as unreadable.
TEST_F(ClusterCaRotation, AClusterInfoNotPublishedIsCountedUnreadable) {
  server_->stop();
  devapi::Options o;
  o.serving_approver = devapi::ServingApprover::Strict;
  o.cluster_info = false;
  start_devapi(o);
  write_config("serving: false\n");
  const int port = free_port();
  auto d = daemon({"--metrics-address", "127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(eventually([&] { return current("kubelet-client") && fs::exists(kubeconfig()); })) << d->err();
  // The check at start (and after each installed certificate) is counted.
  const auto unreadable = [&] {
    const std::string m = http_get(port, "/metrics");
    const std::string name = "kubelet_certd_cluster_ca_checks_total{result=\"unreadable\"} ";
    const auto at = m.find(name);
    return at == std::string::npos ? -1 : std::atoi(m.c_str() + at + name.size());
  };
  EXPECT_TRUE(eventually([&] { return unreadable() >= 1; })) << d->err();
  EXPECT_NE(d->err().find("kube-public/cluster-info is not readable anonymously"), std::string::npos)
      << d->err();
  const std::string metrics = http_get(port, "/metrics");
  EXPECT_NE(metrics.find("kubelet_certd_cluster_ca_checks_total{result=\"followed\"} 0"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("kubelet_certd_cluster_ca_checks_total{result=\"failed\"} 0"), std::string::npos)
      << metrics;
  EXPECT_EQ(fingerprints(kubeconfig_ca()), fingerprints(server_->bundle_pem()));
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_for(5s), std::optional<int>(0));
  collect(*d);
}

}  // namespace
}  // namespace kcd::testing
