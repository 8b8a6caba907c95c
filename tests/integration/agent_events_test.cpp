// Events about the node, end to end: the kubelet-certd binary against devapi, which stores
// core/v1 Events as the v1.24 recordings show (a node may create and patch them about itself).
#include "tests/integration/harness.hpp"

#include <csignal>

namespace kcd::testing {
namespace {

// devapi's Events with `reason`, as stored.
std::vector<nlohmann::json> events_with(const devapi::Server& server, const std::string& reason) {
  std::vector<nlohmann::json> out;
  for (const auto& e : server.list_objects("events")) {
    if (e.value("reason", "") == reason) out.push_back(e);
  }
  return out;
}

void expect_about_worker_1(const nlohmann::json& e, const std::string& type) {
  EXPECT_EQ(e["metadata"]["namespace"], "default") << e.dump();
  EXPECT_EQ(e["involvedObject"]["kind"], "Node");
  EXPECT_EQ(e["involvedObject"]["name"], "worker-1");
  EXPECT_EQ(e["involvedObject"]["uid"], "worker-1");
  EXPECT_EQ(e["source"]["component"], "kubelet-certd");
  EXPECT_EQ(e["source"]["host"], "worker-1");
  EXPECT_EQ(e["reportingComponent"], "kubelet-certd");
  EXPECT_EQ(e["type"], type);
}

TEST_F(AgentHarness, RotationsLeaveCertificateRotatedEventsAboutTheNodeCountedWithinTenMinutes) {
  write_config("serving: false\n");
  ASSERT_EQ(run("run", {"--once"}).exit_code, 0);
  // A one-shot run still tells the cluster before it exits.
  auto rotated = events_with(*server_, "CertificateRotated");
  ASSERT_EQ(rotated.size(), 1u);
  expect_about_worker_1(rotated[0], "Normal");
  EXPECT_EQ(rotated[0]["count"], 1);
  EXPECT_NE(rotated[0]["message"].get<std::string>().find(
                "kubelet client certificate rotated; new certificate valid until "),
            std::string::npos);

  // A daemon renewing twice within ten minutes: one new Event (its correlator starts empty),
  // patched to count 2.
  auto d = daemon();
  // Renewals through the daemon's socket (a renew before it listens would rotate in a process
  // of its own, with a correlator of its own).
  ASSERT_TRUE(eventually([&] { return fs::exists(cert_dir() / "kubelet-certd.sock"); }));
  for (int renewal = 1; renewal <= 2; ++renewal) {
    auto out = run("renew", {"client", "--once", "--timeout", "20s"});
    ASSERT_EQ(out.exit_code, 0) << out.err;
    ASSERT_NE(out.out.find("renewed"), std::string::npos) << "through the daemon: " << out.out;
  }
  EXPECT_TRUE(eventually([&] {
    for (const auto& e : events_with(*server_, "CertificateRotated")) {
      if (e["count"] == 2) return true;
    }
    return false;
  }));
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_for(5s), std::optional<int>(0));
  collect(*d);
  rotated = events_with(*server_, "CertificateRotated");
  ASSERT_EQ(rotated.size(), 2u);
  std::multiset<int> counts;
  for (const auto& e : rotated) counts.insert(e["count"].get<int>());
  EXPECT_EQ(counts, (std::multiset<int>{1, 2}));
  // The repeat was a PATCH of the daemon's Event, not a second one.
  int patches = 0;
  for (const auto& [request, n] : server_->request_counts()) {
    if (request.rfind("PATCH /api/v1/namespaces/default/events/", 0) == 0) patches += n;
  }
  EXPECT_EQ(patches, 1);
}

TEST_F(AgentHarness, ADenialLeavesACertificateSigningRequestDeniedWarning) {
  write_config("serving: false\n");
  ASSERT_EQ(run("run", {"--once"}).exit_code, 0);
  auto f = server_->faults();
  f.deny_all = true;
  server_->set_faults(f);
  auto out = run("renew", {"client", "--once", "--timeout", "10s"});
  EXPECT_EQ(out.exit_code, 4) << out.err;
  const auto denied = events_with(*server_, "CertificateSigningRequestDenied");
  ASSERT_EQ(denied.size(), 1u) << out.err;
  expect_about_worker_1(denied[0], "Warning");
  const std::string message = denied[0]["message"];
  EXPECT_NE(message.find("kubelet client certificate signing request node-csr-"), std::string::npos)
      << message;
  EXPECT_NE(message.find(" denied: "), std::string::npos) << message;
}

TEST_F(AgentHarness, ANodeWithoutACertificateYetPostsNoEvent) {
  auto f = server_->faults();
  f.deny_all = true;  // the bootstrap CSR is denied: the node never has a certificate
  server_->set_faults(f);
  write_config("serving: false\n");
  auto out = run("run", {"--once", "--timeout", "10s"});
  EXPECT_EQ(out.exit_code, 4) << out.err;
  EXPECT_TRUE(server_->list_objects("events").empty()) << "nothing with the bootstrap token";
  for (const auto& [request, n] : server_->request_counts())
    EXPECT_EQ(request.find("events"), std::string::npos) << request;
}

}  // namespace
}  // namespace kcd::testing
