// End to end over real TLS on 127.0.0.1: the kubelet-certd binary against devapi, from a
// bootstrap kubeconfig to an installed client certificate and kubelet kubeconfig.
#include "config/kubeconfig.hpp"
#include "rotation/certificate.hpp"
#include "base/base64.hpp"
#include "rotation/csr.hpp"
#include "rotation/key.hpp"
#include "tests/support/must.hpp"
#include "tests/support/raw_https.hpp"
#include "tests/devapi/server.hpp"
#include "tests/support/subprocess.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>
#include <regex>
#include <thread>

namespace kcd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class AgentBootstrap : public ::testing::Test {
 protected:
  void SetUp() override { start_devapi(devapi::Options{}); }

  void start_devapi(devapi::Options opts) {
    opts.state_dir = tmp_ / "devapi";
    server_ = std::make_unique<devapi::Server>(opts);
    server_->start();
  }

  fs::path cert_dir() const { return tmp_ / "pki"; }
  fs::path kubeconfig() const { return tmp_ / "kubelet.conf"; }

  std::vector<std::string> args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {KCD_BINARY,
                                  "run",
                                  "--config",
                                  (tmp_ / "absent-config.yaml").string(),
                                  "--node-name",
                                  "worker-1",
                                  "--bootstrap-kubeconfig",
                                  server_->bootstrap_kubeconfig_path().string(),
                                  "--kubeconfig",
                                  kubeconfig().string(),
                                  "--cert-dir",
                                  cert_dir().string(),
                                  "--kubelet-config",
                                  (tmp_ / "config.yaml").string(),
                                  "--client-ca-file",
                                  (tmp_ / "ca.crt").string(),
                                  "--log-level",
                                  "trace",
                                  "--serving=false"};  // these tests are about the client certificate
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  testing::RunOutput run_once(std::vector<std::string> extra = {}) {
    auto a = args({"--once"});
    a.insert(a.end(), extra.begin(), extra.end());
    auto out = testing::run_process(a, tmp_ / "logs", 60s);
    all_logs_ += out.out + out.err;
    return out;
  }

  int total_requests() const {
    int n = 0;
    for (const auto& [k, v] : server_->request_counts()) n += v;
    return n;
  }

  // The config file we pointed at does not exist: "--config" named explicitly must exist, so
  // write an empty one (all defaults) instead.
  void TearDown() override {
    // The bootstrap token and private keys never appear in any log line at any verbosity.
    EXPECT_EQ(all_logs_.find(server_->bootstrap_token()), std::string::npos) << "token leaked into logs";
    EXPECT_EQ(all_logs_.find("PRIVATE KEY"), std::string::npos) << "private key leaked into logs";
    server_->stop();
  }

  testing::TempDir tmp_;
  std::unique_ptr<devapi::Server> server_;
  std::string all_logs_;
};

void write_empty_config(const fs::path& p) {
  std::FILE* f = std::fopen(p.c_str(), "w");
  std::fputs("apiVersion: kubelet-certd.io/v1alpha1\nkind: KubeletCertdConfiguration\n", f);
  std::fclose(f);
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

TEST_F(AgentBootstrap, BootstrapsFromTheBootstrapKubeconfigToAnInstalledCertificate) {
  write_empty_config(tmp_ / "absent-config.yaml");
  auto out = run_once();
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE(out.out.find("client certificate valid"), std::string::npos) << out.out;

  // The kubelet's layout: a timestamped file, 0600, cert chain then key; the symlink to it.
  const fs::path link = cert_dir() / "kubelet-client-current.pem";
  ASSERT_TRUE(fs::is_symlink(link));
  const fs::path target = cert_dir() / fs::read_symlink(link);
  EXPECT_TRUE(std::regex_match(target.filename().string(),
                               std::regex(R"(kubelet-client-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.pem)")));
  EXPECT_EQ(mode_of(target), 0600u);
  const std::string pem = testing::read_text(target);
  EXPECT_LT(pem.find("BEGIN CERTIFICATE"), pem.find("PRIVATE KEY"));
  auto chain = rotation::parse_certificates_pem(pem, target.string());
  ASSERT_TRUE(chain) << chain.error().format();
  auto info = rotation::inspect_certificate(chain->front().get());
  EXPECT_EQ(info.common_name, "system:node:worker-1");
  EXPECT_EQ(info.organizations, std::vector<std::string>{"system:nodes"});
  auto key = testing::must(rotation::load_private_key_pem(pem, target.string()));
  EXPECT_EQ(X509_check_private_key(chain->front().get(), key.get()), 1);
  EXPECT_EQ(rotation::describe_key(key.get()), "ECDSA P-256");

  // kubelet.conf: 0600, same server and CA as the bootstrap kubeconfig, pointing at the link.
  EXPECT_EQ(mode_of(kubeconfig()), 0600u);
  auto kc = config::load_kubeconfig(kubeconfig());
  ASSERT_TRUE(kc) << kc.error().format();
  EXPECT_EQ(kc->server.text, server_->url());
  EXPECT_EQ(kc->ca_pem, server_->ca_pem());
  EXPECT_EQ(kc->client_certificate_file, link);
  EXPECT_EQ(kc->client_key_file, link);
  EXPECT_FALSE(kc->token.has_value());

  // Exactly one CSR, and at most two requests for it (POST + WATCH); besides, the Event about
  // the node (CertificateRotated), posted with the new certificate.
  EXPECT_EQ(server_->csrs_created(), 1);
  const auto counts = server_->request_counts();
  const auto events = counts.find("POST /api/v1/namespaces/default/events");
  const int event_posts = events == counts.end() ? 0 : events->second;
  EXPECT_EQ(event_posts, 1);
  EXPECT_LE(total_requests() - event_posts, 2);
  // No pending key left behind.
  EXPECT_FALSE(fs::exists(cert_dir() / "kubelet-certd-client-pending.key"));
}

TEST_F(AgentBootstrap, ValidCertificateMeansNoRequestAtAll) {
  write_empty_config(tmp_ / "absent-config.yaml");
  ASSERT_EQ(run_once().exit_code, 0);
  const int before = total_requests();
  const auto target = fs::read_symlink(cert_dir() / "kubelet-client-current.pem");
  auto out = run_once();
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(total_requests(), before);
  EXPECT_EQ(fs::read_symlink(cert_dir() / "kubelet-client-current.pem"), target);
  EXPECT_EQ(server_->csrs_created(), 1);
}

TEST_F(AgentBootstrap, MissingKubeconfigIsRewrittenWithoutARequest) {
  write_empty_config(tmp_ / "absent-config.yaml");
  ASSERT_EQ(run_once().exit_code, 0);
  const int before = total_requests();
  fs::remove(kubeconfig());
  auto out = run_once();
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_TRUE(fs::exists(kubeconfig()));
  EXPECT_EQ(total_requests(), before);
}

TEST_F(AgentBootstrap, RestartWhilePendingReusesTheSameCsr) {
  server_->stop();
  devapi::Options opts;
  opts.auto_approve_client = false;
  start_devapi(opts);
  write_empty_config(tmp_ / "absent-config.yaml");

  auto first = run_once({"--timeout", "1s"});
  EXPECT_EQ(first.exit_code, 3) << first.err;
  EXPECT_NE(first.err.find("waiting for approval of csr node-csr-"), std::string::npos) << first.err;
  ASSERT_EQ(server_->csrs_created(), 1);
  const std::string name = server_->list_csrs().at(0)["metadata"]["name"];

  auto second = run_once({"--timeout", "1s"});
  EXPECT_EQ(second.exit_code, 3) << second.err;
  EXPECT_EQ(server_->csrs_created(), 1);
  EXPECT_EQ(server_->list_csrs().size(), 1u);

  server_->approve(name, true);
  auto third = run_once({"--timeout", "10s"});
  EXPECT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(server_->csrs_created(), 1);
  EXPECT_TRUE(fs::exists(cert_dir() / "kubelet-client-current.pem"));
}

TEST_F(AgentBootstrap, RequestedLifetimeIsPassedToTheSigner) {
  write_empty_config(tmp_ / "absent-config.yaml");
  auto out = run_once({"--client-expiration-seconds", "3600"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto csrs = server_->list_csrs();
  ASSERT_EQ(csrs.size(), 1u);
  EXPECT_EQ(csrs[0]["spec"]["expirationSeconds"], 3600);
  const std::string pem = testing::read_text(cert_dir() / "kubelet-client-current.pem");
  auto chain = rotation::parse_certificates_pem(pem, "current");
  ASSERT_TRUE(chain);
  auto info = rotation::inspect_certificate(chain->front().get());
  // The signer's rule for short lifetimes: notBefore = now - 5 min, notAfter = now + TTL.
  EXPECT_EQ(info.not_after - info.not_before, std::chrono::minutes(65));
}

TEST_F(AgentBootstrap, ACsrWithOurNameButAnotherKeyIsNotTrusted) {
  server_->stop();
  devapi::Options opts;
  opts.auto_approve_client = false;
  start_devapi(opts);
  write_empty_config(tmp_ / "absent-config.yaml");
  ASSERT_EQ(run_once({"--timeout", "1s"}).exit_code, 3);
  const std::string name = server_->list_csrs().at(0)["metadata"]["name"];
  // Someone replaces our CSR by one with the same name for another key, and approves it.
  server_->delete_csr(name);
  auto other = rotation::generate_key(KeyAlgorithm::EcdsaP256);
  rotation::CsrRequest req;
  req.subject = {"system:node:worker-1", {"system:nodes"}};
  const std::string body =
      nlohmann::json{{"apiVersion", "certificates.k8s.io/v1"},
                     {"kind", "CertificateSigningRequest"},
                     {"metadata", {{"name", name}}},
                     {"spec",
                      {{"request", base64_encode(testing::must(rotation::build_csr_pem(other.get(), req)))},
                       {"signerName", "kubernetes.io/kube-apiserver-client-kubelet"},
                       {"usages", {"digital signature", "key encipherment", "client auth"}}}}}
          .dump();
  testing::RawHttps conn(server_->port(), server_->ca_pem());
  conn.send(testing::http_request(
      "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", server_->port(),
      {{"Authorization", "Bearer " + server_->admin_token()}, {"Content-Type", "application/json"}}, body));
  ASSERT_EQ(testing::parse_http_response(conn.read_response(5s)).status, 201);
  server_->approve(name, true);
  auto out = run_once({"--timeout", "5s"});
  EXPECT_EQ(out.exit_code, 4) << out.err;
  EXPECT_NE(out.err.find("not our pending key"), std::string::npos) << out.err;
  EXPECT_FALSE(fs::exists(cert_dir() / "kubelet-client-current.pem"));
}

TEST_F(AgentBootstrap, DeniedCsrInstallsNothingAndNamesTheCsr) {
  auto faults = server_->faults();
  faults.deny_all = true;
  server_->set_faults(faults);
  write_empty_config(tmp_ / "absent-config.yaml");
  auto out = run_once();
  EXPECT_EQ(out.exit_code, 4) << out.err;
  EXPECT_NE(out.err.find("node-csr-"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("denied"), std::string::npos) << out.err;
  EXPECT_FALSE(fs::exists(cert_dir() / "kubelet-client-current.pem"));
  EXPECT_FALSE(fs::exists(kubeconfig()));
}

TEST_F(AgentBootstrap, CertificateForAnotherKeyIsRejected) {
  auto faults = server_->faults();
  faults.wrong_key_certificate = true;
  server_->set_faults(faults);
  write_empty_config(tmp_ / "absent-config.yaml");
  auto out = run_once();
  EXPECT_EQ(out.exit_code, 4) << out.err;
  EXPECT_NE(out.err.find("public key"), std::string::npos) << out.err;
  EXPECT_FALSE(fs::exists(cert_dir() / "kubelet-client-current.pem"));
  EXPECT_FALSE(fs::exists(kubeconfig()));
}

TEST_F(AgentBootstrap, DaemonStopsWithinTwoSecondsOfSigtermMidWatch) {
  server_->stop();
  devapi::Options opts;
  opts.auto_approve_client = false;
  start_devapi(opts);
  write_empty_config(tmp_ / "absent-config.yaml");
  testing::Subprocess daemon(args(), tmp_ / "logs");
  // Wait until the CSR is filed and the watch is open.
  for (int i = 0; i < 500 && server_->csrs_created() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(server_->csrs_created(), 1);
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(daemon.running());
  const auto t0 = std::chrono::steady_clock::now();
  daemon.signal(SIGTERM);
  auto code = daemon.wait_for(2s);
  all_logs_ += daemon.err();
  ASSERT_TRUE(code.has_value()) << "still running 2 s after SIGTERM";
  EXPECT_EQ(*code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST_F(AgentBootstrap, DaemonKeepsRunningAfterInstalling) {
  write_empty_config(tmp_ / "absent-config.yaml");
  testing::Subprocess daemon(args(), tmp_ / "logs");
  const fs::path link = cert_dir() / "kubelet-client-current.pem";
  for (int i = 0; i < 1000 && !fs::exists(kubeconfig()); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(fs::exists(link));
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(daemon.running());
  const int before = total_requests();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(total_requests(), before) << "idle means zero API calls";
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_for(2s), std::optional<int>(0));
  all_logs_ += daemon.err();
  EXPECT_NE(all_logs_.find("certificate installed"), std::string::npos);
}

TEST_F(AgentBootstrap, InvalidConfigurationExitsTwoAndChangesNothing) {
  std::FILE* f = std::fopen((tmp_ / "absent-config.yaml").c_str(), "w");
  std::fputs("nodeName: worker-1\nkeyAlgorithm: ECDSA-256\n", f);
  std::fclose(f);
  auto out = run_once();
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find(":2:"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("keyAlgorithm"), std::string::npos) << out.err;
  EXPECT_FALSE(fs::exists(cert_dir()));
  EXPECT_EQ(total_requests(), 0);
}

TEST_F(AgentBootstrap, MissingBootstrapKubeconfigIsAOneLineError) {
  write_empty_config(tmp_ / "absent-config.yaml");
  auto a = args({"--once", "--timeout", "2s", "--bootstrap-kubeconfig", (tmp_ / "nope.conf").string()});
  auto out = testing::run_process(a, tmp_ / "logs", 30s);
  all_logs_ += out.out + out.err;
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.err.find("nope.conf"), std::string::npos) << out.err;
  EXPECT_EQ(total_requests(), 0);
}

}  // namespace
}  // namespace kcd
