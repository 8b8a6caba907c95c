// Rotation end to end: both certificates carried through rotations by the real daemon, the
// renew command through the control socket and in-process, one instance per node, SIGHUP.
#include "tests/integration/harness.hpp"

#include <csignal>

namespace kcd::testing {
namespace {

TEST_F(AgentHarness, DaemonCarriesBothCertificatesThroughThreeRotationsEach) {
  devapi::Options opts;
  opts.signing_duration = 30s;
  opts.serving_approver = devapi::ServingApprover::Strict;
  start_devapi(opts);
  write_config();
  auto d = daemon();
  std::set<std::string> client_serials, serving_serials;
  const bool rotated = eventually(
      [&] {
        if (auto c = current("kubelet-client")) client_serials.insert(c->serial);
        if (auto s = current("kubelet-server")) serving_serials.insert(s->serial);
        return client_serials.size() >= 4 && serving_serials.size() >= 4;
      },
      150s);
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_for(5s), std::optional<int>(0));
  collect(*d);
  EXPECT_TRUE(rotated) << "client serials " << client_serials.size() << ", serving serials "
                       << serving_serials.size();
  // Every CSR led to an installed certificate: no extra CSRs, never two for one key.
  const auto keys = csr_public_keys();
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size());
  EXPECT_LE(server_->csrs_created(), static_cast<int>(client_serials.size() + serving_serials.size() + 2));
  // Renewals were authenticated as the node (selfnodeclient), not with the bootstrap token.
  int renewals_as_node = 0;
  for (const auto& c : server_->list_csrs()) {
    if (c["spec"]["username"] == "system:node:worker-1" &&
        c["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet") {
      ++renewals_as_node;
    }
  }
  EXPECT_GE(renewals_as_node, 3);
  // Old files pruned to the newest 3 (plus none beyond).
  int client_files = 0;
  for (const auto& e : fs::directory_iterator(cert_dir())) {
    const std::string n = e.path().filename().string();
    if (n.rfind("kubelet-client-2", 0) == 0) ++client_files;
  }
  EXPECT_LE(client_files, 3);
}

TEST_F(AgentHarness, RenewWithoutADaemonRotatesInProcess) {
  write_config("serving: false\n");
  ASSERT_EQ(run("run", {"--once"}).exit_code, 0);
  const auto before = current();
  ASSERT_TRUE(before);
  auto out = run("renew", {"client", "--once"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const auto after = current();
  ASSERT_TRUE(after);
  EXPECT_NE(after->sha256_fingerprint, before->sha256_fingerprint);
  EXPECT_EQ(server_->csrs_created(), 2);
  // The renewal used a new key and the node's own certificate.
  const auto keys = csr_public_keys();
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 2u);
  EXPECT_NE(out.err.find("auth=\"client certificate"), std::string::npos) << out.err;
}

TEST_F(AgentHarness, RenewAsksTheRunningDaemonThroughItsSocket) {
  write_config("serving: false\n");
  auto d = daemon();
  ASSERT_TRUE(eventually([&] { return current().has_value() && fs::exists(kubeconfig()); }));
  const auto before = current();
  auto out = run("renew", {"client", "--once", "--timeout", "20s"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE(out.out.find("renewed"), std::string::npos) << out.out;
  EXPECT_NE(current()->sha256_fingerprint, before->sha256_fingerprint);
  EXPECT_EQ(server_->csrs_created(), 2);
  // Without --once the request is only handed over.
  auto quick = run("renew", {"client"});
  EXPECT_EQ(quick.exit_code, 0) << quick.err;
  EXPECT_NE(quick.out.find("requested from the running daemon"), std::string::npos);
  EXPECT_TRUE(eventually([&] { return server_->csrs_created() == 3; }));
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_for(5s), std::optional<int>(0));
  collect(*d);
  EXPECT_NE(logs_.find("renewal requested via=\"control socket\""), std::string::npos);
}

// renew --once through a running daemon: a CSR nobody approves ends in exit code 3, decided from
// the daemon's typed condition ("awaiting approval"), not from its human-readable reason.
TEST_F(AgentHarness, RenewThroughTheDaemonReportsAnUnapprovedCsrAsPending) {
  write_config();  // serving on; this devapi approves no serving CSR
  auto d = daemon();
  ASSERT_TRUE(eventually([&] { return current().has_value(); }));
  auto out = run("renew", {"serving", "--once", "--timeout", "2s"});
  EXPECT_EQ(out.exit_code, 3) << out.err;
  EXPECT_NE(out.err.find("timed out"), std::string::npos) << out.err;
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_for(5s), std::optional<int>(0));
  collect(*d);
}

// A symlink planted on the lock file's name must not make root create a file elsewhere.
TEST_F(AgentHarness, APlantedLockSymlinkIsRefusedAndNotFollowed) {
  write_config("serving: false\n");
  fs::create_directories(cert_dir());
  const fs::path target = tmp_ / "elsewhere" / "created-by-root";
  fs::create_directories(target.parent_path());
  fs::create_symlink(target, cert_dir() / "kubelet-certd.lock");
  auto out = run("run", {"--once"});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_NE(out.err.find("kubelet-certd.lock is a symbolic link"), std::string::npos) << out.err;
  EXPECT_FALSE(fs::exists(target));
  EXPECT_EQ(server_->csrs_created(), 0);
}

TEST_F(AgentHarness, ASecondInstanceExitsWithAClearMessage) {
  write_config("serving: false\n");
  auto d = daemon();
  ASSERT_TRUE(eventually([&] { return current().has_value(); }));
  auto second = run("run", {"--once"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("another kubelet-certd is already running"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("kubelet-certd.lock"), std::string::npos) << second.err;
  d->signal(SIGTERM);
  d->wait_for(5s);
  collect(*d);
}

TEST_F(AgentHarness, SighupKeepsTheOldConfigurationWhenTheNewOneIsBadAndAppliesAGoodOne) {
  write_config("serving: false\n");
  auto d = daemon();
  ASSERT_TRUE(eventually([&] { return current().has_value(); }));
  EXPECT_EQ(current()->key_algorithm, "ECDSA P-256");
  write_config("serving: false\nkeyAlgorithm: RSA-2049\n");
  d->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return d->err().find("configuration reload failed") != std::string::npos; }));
  EXPECT_TRUE(d->running());
  EXPECT_NE(d->err().find("did you mean RSA-2048?"), std::string::npos);
  // A valid new key algorithm makes the current certificate not match: rotated at once.
  write_config("serving: false\nkeyAlgorithm: RSA-2048\n");
  d->signal(SIGHUP);
  EXPECT_TRUE(eventually([&] {
    auto c = current();
    return c && c->key_algorithm == "RSA 2048";
  }));
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_for(5s), std::optional<int>(0));
  collect(*d);
  EXPECT_NE(logs_.find("configuration reloaded"), std::string::npos);
}

TEST_F(AgentHarness, RenewalFallsBackToTheBootstrapKubeconfigWhenTheNodeIsRefused) {
  write_config("serving: false\n");
  ASSERT_EQ(run("run", {"--once"}).exit_code, 0);
  auto f = server_->faults();
  f.reject_client_certs = true;  // as if the node's certificate had expired or been revoked
  server_->set_faults(f);
  auto out = run("renew", {"client", "--once", "--backoff-initial", "100ms", "--backoff-cap", "200ms"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE(out.err.find("falling back to the bootstrap kubeconfig"), std::string::npos) << out.err;
  EXPECT_EQ(server_->csrs_created(), 2);
}

// The pre-check is the approver's own rules (rotation::decide_serving_csr) against the Node the
// agent reads as itself: a SAN that is not among the Node's addresses is named before filing.
TEST_F(AgentHarness, ServingRequestThatTheApproverWouldDenyIsExplainedBeforeFiling) {
  devapi::Options opts;
  opts.serving_approver = devapi::ServingApprover::Strict;
  start_devapi(opts);
  ASSERT_TRUE(server_->create_node("worker-1"));
  ASSERT_EQ(server_->set_node_addresses("worker-1", {{"InternalIP", "127.0.0.1"}, {"Hostname", "worker-1"}}),
            200);
  write_config("servingDNSNames: [other-host, worker-1.example]\n");
  auto out = run("run", {"--once", "--timeout", "10s"});
  EXPECT_NE(out.err.find("serving request breaks an approver rule"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("rule=SanNotOfNode"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("DNS SAN other-host is not among Node worker-1's addresses"), std::string::npos);
  // Only said: the CSR is filed, and the strict approver denies it: exit 4, the client
  // certificate is still installed.
  EXPECT_EQ(out.exit_code, 4) << out.err;
  EXPECT_TRUE(current("kubelet-client").has_value());
  EXPECT_FALSE(current("kubelet-server").has_value());
}

TEST_F(AgentHarness, ServingRequestThatMatchesItsNodePassesThePreCheck) {
  devapi::Options opts;
  opts.serving_approver = devapi::ServingApprover::Strict;
  start_devapi(opts);
  ASSERT_TRUE(server_->create_node("worker-1"));
  ASSERT_EQ(server_->set_node_addresses("worker-1", {{"InternalIP", "127.0.0.1"}, {"Hostname", "worker-1"}}),
            200);
  write_config("servingDNSNames: [worker-1]\n");
  auto out = run("run", {"--once", "--timeout", "10s"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE(out.err.find("serving request passes the approver rules"), std::string::npos) << out.err;
  EXPECT_TRUE(current("kubelet-server").has_value());
}

}  // namespace
}  // namespace kcd::testing
