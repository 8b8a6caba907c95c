// `kubelet-certd status` from the files and from a running daemon, and the metrics endpoint
// scraped over HTTP.
#include "tests/integration/harness.hpp"
#include "tests/support/local_clients.hpp"

#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>

namespace kcd::testing {
namespace {

using nlohmann::json;

class Status : public AgentHarness {
 protected:
  void SetUp() override {
    devapi::Options opts;
    opts.serving_approver = devapi::ServingApprover::All;
    start_devapi(opts);
    write_config();
  }
};

TEST_F(Status, NothingInstalledIsReportedAndExitsNonZero) {
  auto out = run("status", {});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.out.find("CERTIFICATE"), std::string::npos);
  EXPECT_NE(out.out.find("client        <none>"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("missing"), std::string::npos);
  EXPECT_NE(out.out.find("daemon: not running"), std::string::npos);
}

TEST_F(Status, JsonDescribesEveryCertificate) {
  ASSERT_EQ(run("run", {"--once"}).exit_code, 0);
  auto out = run("status", {"-o", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  const json j = json::parse(out.out);
  ASSERT_EQ(j["certificates"].size(), 3u);
  const json& client = j["certificates"][0];
  const json& serving = j["certificates"][1];
  const json& ca = j["certificates"][2];
  EXPECT_EQ(client["name"], "client");
  EXPECT_EQ(client["path"], (cert_dir() / "kubelet-client-current.pem").string());
  EXPECT_EQ(client["commonName"], "system:node:worker-1");
  EXPECT_EQ(client["organizations"], json::array({"system:nodes"}));
  EXPECT_EQ(client["dnsNames"], json::array());
  EXPECT_EQ(client["issuer"], "CN=kubernetes");
  EXPECT_EQ(client["status"], "valid");
  EXPECT_EQ(client["notAfter"], to_rfc3339(current()->not_after));
  EXPECT_EQ(client["notBefore"], to_rfc3339(current()->not_before));
  EXPECT_TRUE(client["rotationDeadline"].is_string());
  EXPECT_TRUE(parse_rfc3339(client["rotationDeadline"].get<std::string>()).has_value());
  EXPECT_TRUE(client["pendingCSR"].is_null());
  EXPECT_EQ(serving["ipAddresses"], json::array({"127.0.0.1"}));
  EXPECT_EQ(serving["commonName"], "system:node:worker-1");
  EXPECT_EQ(ca["commonName"], "kubernetes");
  EXPECT_EQ(j["daemon"]["running"], false);
}

// A CA change's kubelet restart not done yet (a crash or a failed D-Bus call came between) is
// shown until the daemon has done it.
TEST_F(Status, AnOwedKubeletRestartIsShown) {
  ASSERT_EQ(run("run", {"--once"}).exit_code, 0);
  auto before = run("status", {"-o", "json"});
  ASSERT_EQ(before.exit_code, 0) << before.out << before.err;
  EXPECT_TRUE(json::parse(before.out)["kubeletConfig"]["restartOwed"].is_null()) << before.out;

  std::ofstream(cert_dir() / "kubelet-restart-owed")
      << "cluster CA bundle in /etc/kubernetes/kubelet.conf changed at 2026-12-03T10:00:00.000Z\n";
  auto text = run("status", {});
  EXPECT_NE(text.out.find("  restart owed  cluster CA bundle in /etc/kubernetes/kubelet.conf changed at "
                          "2026-12-03T10:00:00.000Z\n"),
            std::string::npos)
      << text.out;
  auto j = run("status", {"-o", "json"});
  EXPECT_EQ(json::parse(j.out)["kubeletConfig"]["restartOwed"],
            "cluster CA bundle in /etc/kubernetes/kubelet.conf changed at 2026-12-03T10:00:00.000Z")
      << j.out;

  // Two debts (one restart pays both): the first, and how many more.
  std::ofstream(cert_dir() / "kubelet-restart-owed", std::ios::app)
      << "client CA file /etc/kubernetes/pki/ca.crt updated at 2026-12-03T10:00:01.000Z\n";
  EXPECT_EQ(
      json::parse(run("status", {"-o", "json"}).out)["kubeletConfig"]["restartOwed"],
      "cluster CA bundle in /etc/kubernetes/kubelet.conf changed at 2026-12-03T10:00:00.000Z (and 1 more)");
}

TEST_F(Status, PendingServingCsrShowsItsNameAndAge) {
  server_->stop();
  start_devapi(devapi::Options{});  // no serving approver
  auto run_out = run("run", {"--once", "--timeout", "2s"});
  ASSERT_EQ(run_out.exit_code, 3) << run_out.err;
  auto out = run("status", {"-o", "json"});
  EXPECT_EQ(out.exit_code, 1) << "the serving certificate is missing";
  const json serving = json::parse(out.out)["certificates"][1];
  EXPECT_EQ(serving["status"], "missing");
  ASSERT_TRUE(serving["pendingCSR"].is_string());
  EXPECT_EQ(serving["pendingCSR"].get<std::string>().rfind("node-csr-", 0), 0u);
  EXPECT_GE(serving["pendingCSRAgeSeconds"].get<long>(), 0);
  auto table = run("status", {});
  EXPECT_NE(table.out.find(serving["pendingCSR"].get<std::string>()), std::string::npos);
  EXPECT_NE(table.out.find("pending CSR"), std::string::npos);
}

TEST_F(Status, ExpiredCertificateExitsNonZero) {
  server_->stop();
  devapi::Options opts;
  opts.signing_duration = 1s;
  opts.serving_approver = devapi::ServingApprover::All;
  start_devapi(opts);
  ASSERT_EQ(run("run", {"--once"}).exit_code, 0);
  std::this_thread::sleep_for(1500ms);
  auto out = run("status", {"-o", "json"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(json::parse(out.out)["certificates"][0]["status"], "expired");
}

TEST_F(Status, RunningDaemonIsShownAndMetricsAreScraped) {
  const int port = free_port();
  const fs::path textfile = tmp_ / "textfile" / "kubelet_certd.prom";
  fs::create_directories(textfile.parent_path());
  auto d = daemon(
      {"--metrics-address", "127.0.0.1:" + std::to_string(port), "--metrics-textfile", textfile.string()});
  ASSERT_TRUE(eventually([&] { return current("kubelet-client") && current("kubelet-server"); }));
  std::this_thread::sleep_for(200ms);

  auto st = run("status", {"-o", "json"});
  EXPECT_EQ(st.exit_code, 0) << st.out;
  EXPECT_EQ(json::parse(st.out)["daemon"]["running"], true);

  // The kubelet's config file is patched on the daemon's kubelet worker, next to the agent: the
  // CIS results follow once it is done (they are re-evaluated after every patch).
  std::string res;
  EXPECT_TRUE(eventually([&] {
    res = http_get(port, "/metrics");
    // The Events about the node are sent on their own, right after each install.
    return res.find("kubelet_certd_cis_check{id=\"4.2.9\",status=\"PASS\"} 1") != std::string::npos &&
           res.find("kubelet_certd_events_posted_total{verb=\"create\"} 2") != std::string::npos;
  })) << res;
  ASSERT_EQ(res.rfind("HTTP/1.1 200 OK", 0), 0u) << res;
  EXPECT_NE(res.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  const std::string body = res.substr(res.find("\r\n\r\n") + 4);
  char expected[128];
  std::snprintf(expected, sizeof expected,
                "kubelet_certd_certificate_expiration_timestamp_seconds{cert=\"client\"} %lld.000",
                static_cast<long long>(std::chrono::system_clock::to_time_t(current()->not_after)));
  EXPECT_NE(body.find(expected), std::string::npos) << body;
  for (const char* needle :
       {"# TYPE kubelet_certd_certificate_expiration_timestamp_seconds gauge",
        "kubelet_certd_certificate_rotation_deadline_timestamp_seconds{cert=\"serving\"} ",
        "kubelet_certd_pending_csr_age_seconds{cert=\"client\"} 0.000",
        "kubelet_certd_csrs_created_total{cert=\"client\"} 1",
        "kubelet_certd_csrs_created_total{cert=\"serving\"} 1",
        "kubelet_certd_rotation_attempts_total{cert=\"client\",result=\"success\"} 1",
        "kubelet_certd_rotation_attempts_total{cert=\"client\",result=\"denied\"} 0",
        "kubelet_certd_last_success_timestamp_seconds{cert=\"client\"} ",
        "kubelet_certd_certificate_valid{cert=\"serving\"} 1",
        // Two CertificateRotated Events about the node (client, serving), none dropped.
        "kubelet_certd_events_posted_total{verb=\"create\"} 2",
        "kubelet_certd_events_posted_total{verb=\"patch\"} 0",
        "kubelet_certd_events_dropped_total{reason=\"rate_limited\"} 0",
        "kubelet_certd_events_dropped_total{reason=\"refused\"} 0",
        // The daemon patched the kubelet's config file: the CIS results say so.
        "# TYPE kubelet_certd_cis_check gauge", "kubelet_certd_cis_check{id=\"4.2.1\",status=\"PASS\"} 1",
        "kubelet_certd_cis_check{id=\"4.2.10\",status=\"PASS\"} 1",
        "kubelet_certd_cis_check{id=\"4.2.10\",status=\"FAIL\"} 0",
        "kubelet_certd_cis_check{id=\"4.1.9\",status=\"PASS\"} 1"}) {
    EXPECT_NE(body.find(needle), std::string::npos) << needle << "\n" << body;
  }
  EXPECT_EQ(http_get(port, "/other").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_TRUE(eventually([&] {
    return fs::exists(textfile) &&
           read_text(textfile).find("kubelet_certd_csrs_created_total") != std::string::npos;
  }));

  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_for(5s), std::optional<int>(0));
  collect(*d);
}

}  // namespace
}  // namespace kcd::testing
