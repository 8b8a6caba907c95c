// The agent in process, on the fake CSR API and a virtual clock: every scenario runs the event
// loop handler by handler until what it waits for is true, so nothing sleeps and hours of
// deadlines, backoffs and watch timeouts pass in milliseconds.
#include "base/base64.hpp"
#include "base/rfc3339.hpp"
#include "daemon/agent.hpp"
#include "rotation/store/store.hpp"
#include "systemd/log.hpp"
#include "tests/fakes/fake_csr_api.hpp"
#include "tests/support/subprocess.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace kcd::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using rotation::CertKind;

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::init(log::Target::Console, "error");
    settings_.node_name = "worker-1";
    settings_.serving = false;
    settings_.cert_dir = tmp_ / "pki";
    settings_.kubeconfig = tmp_ / "kubelet.conf";
    settings_.bootstrap_kubeconfig = tmp_ / "bootstrap-kubelet.conf";
    settings_.serving_ips = {"10.0.0.5"};
    settings_.serving_dns_names = {"worker-1"};
    write_bootstrap_kubeconfig();
  }

  void TearDown() override {
    if (agent_) stop();
    log::init(log::Target::Console, "error");  // logs_ goes with the fixture
  }

  void write_bootstrap_kubeconfig() {
    std::ofstream(settings_.bootstrap_kubeconfig)
        << "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: "
        << base64_encode(server_.ca_pem())
        << "\n    server: https://127.0.0.1:6443\n  name: fake\ncontexts:\n"
        << "- context:\n    cluster: fake\n    user: bootstrap\n  name: bootstrap@fake\ncurrent-context: "
           "bootstrap@fake\n"
        << "users:\n- name: bootstrap\n  user:\n    token: " << server_.bootstrap_token() << "\n";
  }

  // A daemon start: a new agent on the files the previous one left.
  void start(std::vector<CertKind> kinds = {CertKind::Client}) {
    daemon::AgentEffects effects;
    effects.csr_api = server_.factory();
    effects.kubeconfigs = std::make_shared<daemon::KubeconfigFiles>();
    effects.stores = stores_ ? stores_ : daemon::store_files(settings_.cert_dir);
    effects.clock = clock_;
    if (generate_key_) effects.generate_key = generate_key_;
    agent_ =
        std::make_unique<daemon::Agent>(io_, settings_, timings_, daemon::AgentEvents{}, std::move(effects));
    for (CertKind kind : kinds) {
      ++running_;
      boost::asio::co_spawn(io_, agent_->run(kind), [this](std::exception_ptr e) {
        --running_;
        if (e) std::rethrow_exception(e);
      });
    }
  }

  // Runs the loop one handler at a time until `done` holds (false when it never does).
  bool run_until(const std::function<bool()>& done, int max_handlers = 20000) {
    for (int i = 0; i < max_handlers; ++i) {
      if (done()) return true;
      if (io_.poll_one() == 0) {
        if (io_.stopped()) io_.restart();
        if (io_.run_one_for(50ms) == 0) return done();
      }
    }
    return done();
  }

  // A daemon stop: the agent ends its runs, as on SIGTERM.
  void stop() {
    agent_->stop();
    EXPECT_TRUE(run_until([this] { return running_ == 0; }));
    agent_.reset();
  }

  const rotation::Lifecycle& machine(CertKind kind = CertKind::Client) const {
    return *agent_->lifecycle(kind);
  }
  int installs(CertKind kind = CertKind::Client) const {
    const auto* m = agent_->lifecycle(kind);
    return m ? m->installs() : 0;
  }
  std::optional<rotation::InstalledPair> current(CertKind kind = CertKind::Client) const {
    auto loaded = rotation::Store(settings_.cert_dir, kind).load_current();
    return loaded && loaded->has_value() ? std::move(**loaded) : std::optional<rotation::InstalledPair>();
  }

  // With `fault` set, watches of a CSR nobody approves yet end without a verdict: the agent
  // must GET the CSR (at least `gets` times) and watch again, then install once it is
  // approved and the fault is gone, all with the one CSR.
  void looks_up_after_failing_watches(bool FakeFaults::*fault, int gets) {
    server_.auto_approve_client = false;
    server_.faults.*fault = true;
    start();
    ASSERT_TRUE(
        run_until([&] { return server_.requests("WATCH csr") >= 2 && server_.requests("GET csr") >= gets; }));
    server_.faults.*fault = false;
    server_.approve(server_.csrs().at(0).name, true);
    ASSERT_TRUE(run_until([&] { return installs() == 1; }));
    EXPECT_EQ(server_.csrs_created(), 1);
  }

  // The agent's log lines at `level` and above, in logs_ (instead of the console).
  void capture_logs(std::string_view level) {
    log::init(log::Target::Console, level);
    spdlog::default_logger()->sinks().clear();
    spdlog::default_logger()->sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_mt>(logs_));
  }
  std::size_t logged(const std::string& text) const {
    std::size_t n = 0;
    const std::string all = logs_.str();
    for (auto at = all.find(text); at != std::string::npos; at = all.find(text, at + 1)) ++n;
    return n;
  }

  // The Event requests with `reason`, in order.
  std::vector<PostedEvent> event_requests(const std::string& reason) const {
    std::vector<PostedEvent> out;
    for (const auto& e : server_.event_requests()) {
      if (e.event.reason == reason) out.push_back(e);
    }
    return out;
  }
  // The stored Events with `reason`.
  std::vector<api::EventRecord> events(const std::string& reason) const {
    std::vector<api::EventRecord> out;
    for (const auto& e : server_.events()) {
      if (e.reason == reason) out.push_back(e);
    }
    return out;
  }
  long dropped(const std::string& why) const {
    const auto c = agent_->event_counts();
    auto it = c.dropped.find(why);
    return it == c.dropped.end() ? 0 : it->second;
  }

  std::ostringstream logs_;
  TempDir tmp_;
  daemon::StoreFactory stores_;        // empty: the files in certDir
  daemon::KeyGenerator generate_key_;  // empty: OpenSSL's
  std::shared_ptr<VirtualClock> clock_ = std::make_shared<VirtualClock>();
  FakeCsrApiServer server_{*clock_};
  config::Settings settings_;
  daemon::AgentTimings timings_;
  boost::asio::io_context io_;
  std::unique_ptr<daemon::Agent> agent_;
  int running_ = 0;
};

TEST_F(AgentTest, BootstrapsFromTheBootstrapKubeconfigToAnInstalledCertificate) {
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  auto pair = current();
  ASSERT_TRUE(pair.has_value());
  EXPECT_EQ(pair->info.common_name, "system:node:worker-1");
  EXPECT_TRUE(fs::exists(settings_.kubeconfig));
  EXPECT_EQ(server_.csrs_created(), 1);
  const auto csrs = server_.csrs();
  ASSERT_EQ(csrs.size(), 1u);
  EXPECT_EQ(csrs[0].username, "system:bootstrap:abcdef");
  EXPECT_EQ(csrs[0].signer_name, "kubernetes.io/kube-apiserver-client-kubelet");
  EXPECT_EQ(machine().phase(), rotation::Phase::Idle);
}

// The disk is full when the certificate comes: the install fails without touching anything, the
// agent backs off and installs the same CSR's certificate once there is room again: no second CSR.
class FullDiskStore final : public rotation::CertStore {
 public:
  FullDiskStore(const fs::path& dir, CertKind kind, int* failures) : disk_(dir, kind), failures_(failures) {}
  fs::path current_path() const override { return disk_.current_path(); }
  fs::path pending_key_path() const override { return disk_.pending_key_path(); }
  Expected<std::optional<rotation::InstalledPair>> load_current() const override {
    return disk_.load_current();
  }
  Expected<std::optional<ossl::PKeyPtr>> load_pending_key() const override {
    return disk_.load_pending_key();
  }
  Expected<void> save_pending_key(EVP_PKEY* key) const override { return disk_.save_pending_key(key); }
  Expected<void> discard_pending_key(Sync sync) const override { return disk_.discard_pending_key(sync); }
  Expected<fs::path> install(const std::vector<ossl::X509Ptr>& chain, EVP_PKEY* key,
                             std::chrono::system_clock::time_point now) const override {
    if (*failures_ > 0) {
      --*failures_;
      return Unexpected(io_error("write", disk_.current_path().string(), ENOSPC));
    }
    return disk_.install(chain, key, now);
  }
  std::vector<fs::path> prune(int keep) const override { return disk_.prune(keep); }

 private:
  rotation::Store disk_;
  int* failures_;
};

TEST_F(AgentTest, AFullDiskAtInstallIsRetriedWithTheSameCsr) {
  int failures = 3;
  stores_ = [&](CertKind kind) {
    return std::unique_ptr<rotation::CertStore>(
        std::make_unique<FullDiskStore>(settings_.cert_dir, kind, &failures));
  };
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(server_.csrs_created(), 1);
  EXPECT_TRUE(current().has_value());
  EXPECT_EQ(machine().phase(), rotation::Phase::Idle);
  EXPECT_EQ(machine().outcomes().at("error"), 3);
}

TEST_F(AgentTest, ValidCertificateMeansNoRequestAtAllAfterARestart) {
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  stop();
  const int posts = server_.requests("POST csr");
  start();
  ASSERT_TRUE(run_until([&] {
    const auto* m = agent_->lifecycle(CertKind::Client);  // none before the run starts
    return m != nullptr && m->phase() == rotation::Phase::Idle;
  }));
  EXPECT_EQ(server_.requests("POST csr"), posts);
  EXPECT_EQ(server_.csrs_created(), 1);
}

TEST_F(AgentTest, RestartWhilePendingReusesTheSameCsr) {
  server_.auto_approve_client = false;
  start();
  ASSERT_TRUE(run_until([&] { return server_.requests("WATCH csr") >= 2; }));  // the watch was renewed
  stop();
  const int gets = server_.requests("GET csr");
  start();
  // The same key, so the same name: the agent looks the CSR up (or POSTs and gets 409) and
  // watches it again; it never files a second one.
  ASSERT_TRUE(
      run_until([&] { return server_.requests("GET csr") > gets && server_.requests("WATCH csr") >= 3; }));
  EXPECT_EQ(server_.csrs_created(), 1);
  server_.approve(server_.csrs().at(0).name, true);
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  EXPECT_EQ(server_.csrs_created(), 1);
}

TEST_F(AgentTest, DenialsAreRateLimitedByTheCsrCreateInterval) {
  settings_.csr_create_interval = 1h;
  server_.faults.deny_all = true;
  start();
  ASSERT_TRUE(run_until([&] { return server_.csrs_created() == 3; }));
  const auto& at = server_.created_at();
  EXPECT_GE(at[1] - at[0], 1h);
  EXPECT_GE(at[2] - at[1], 1h);
  EXPECT_FALSE(current().has_value());
  std::set<std::string> keys;
  for (const auto& csr : server_.csrs()) keys.insert(csr.name);  // the name is derived from the key
  EXPECT_EQ(keys.size(), 3u) << "a new key for every CSR";
  EXPECT_GE(machine().outcomes().at("denied"), 2);
}

TEST_F(AgentTest, FailedCsrsAreRateLimitedToo) {
  server_.faults.fail_all = true;
  start();
  ASSERT_TRUE(run_until([&] { return server_.csrs_created() == 2; }));
  EXPECT_GE(server_.created_at()[1] - server_.created_at()[0], settings_.csr_create_interval);
  EXPECT_GE(machine().outcomes().at("failed"), 1);
  EXPECT_FALSE(current().has_value());
}

TEST_F(AgentTest, WatchTooOldLeadsToAGetAndANewWatch) {
  looks_up_after_failing_watches(&FakeFaults::watch_too_old, 2);
}

TEST_F(AgentTest, WatchAnsweredWith410EveryTimeIsRetriedThroughTheBackoff) {
  // Issue 10, class 9: an ERROR 410 event on every watch was followed by a GET and a new
  // watch at once, hundreds a second. Each one now waits the backoff policy (1 s doubling to
  // 5 min, full jitter): about 35 watches in an hour; a tight loop would never let the
  // virtual clock move at all.
  server_.auto_approve_client = false;
  server_.faults.watch_too_old = true;
  start();
  const auto t0 = clock_->now();
  ASSERT_TRUE(run_until([&] { return clock_->now() - t0 >= 1h; }, 200000))
      << server_.requests("WATCH csr") << " watches without the clock moving an hour";
  EXPECT_GE(server_.requests("WATCH csr"), 5);
  EXPECT_LE(server_.requests("WATCH csr"), 150);
  EXPECT_LE(server_.requests("GET csr"), 151);
  EXPECT_EQ(server_.csrs_created(), 1);
  // Still the same CSR, approved later: installed as soon as the watch works again.
  server_.faults.watch_too_old = false;
  server_.approve(server_.csrs().at(0).name, true);
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
}

TEST_F(AgentTest, SilentWatchIsDetectedAndTheCsrLookedUp) {
  looks_up_after_failing_watches(&FakeFaults::silent_watches, 1);
}

TEST_F(AgentTest, CertificateForTheWrongKeyIsRejectedAndRateLimited) {
  server_.faults.wrong_key_certificate = true;
  start();
  ASSERT_TRUE(run_until([&] { return server_.csrs_created() == 2; }));
  EXPECT_GE(server_.created_at()[1] - server_.created_at()[0], settings_.csr_create_interval);
  EXPECT_FALSE(current().has_value());
  EXPECT_FALSE(fs::exists(settings_.kubeconfig));
  EXPECT_EQ(installs(), 0);
  server_.faults.wrong_key_certificate = false;
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
}

TEST_F(AgentTest, TooManyRequestsHonoursRetryAfter) {
  timings_.backoff.initial = 100ms;
  timings_.backoff.cap = 500ms;
  server_.faults.throttle_next = 2;
  server_.faults.retry_after_seconds = 7;
  const auto t0 = clock_->now();
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  // Two 429s with Retry-After: 7 each, although the backoff cap is 500 ms.
  EXPECT_GE(server_.created_at().at(0) - t0, 14s);
  EXPECT_EQ(server_.csrs_created(), 1);
}

TEST_F(AgentTest, ServerErrorsAreRetried) {
  timings_.backoff.initial = 100ms;
  server_.faults.fail_next_with_5xx = 3;
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  EXPECT_EQ(server_.csrs_created(), 1);
}

TEST_F(AgentTest, RenewalFallsBackToTheBootstrapKubeconfigWhenTheNodeIsRefused) {
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  const auto first = current()->info.sha256_fingerprint;
  server_.faults.reject_client_certs = true;  // the node's certificate gets 401
  agent_->renew(CertKind::Client);
  ASSERT_TRUE(run_until([&] { return installs() == 2; }));
  EXPECT_NE(current()->info.sha256_fingerprint, first);
  const auto csrs = server_.csrs();
  ASSERT_EQ(csrs.size(), 2u);
  for (const auto& csr : csrs) EXPECT_EQ(csr.username, "system:bootstrap:abcdef") << csr.name;
}

TEST_F(AgentTest, RenewalAsTheNodeUsesTheClientCertificate) {
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  agent_->renew(CertKind::Client);
  ASSERT_TRUE(run_until([&] { return installs() == 2; }));
  std::set<std::string> users;
  for (const auto& csr : server_.csrs()) users.insert(csr.username);
  EXPECT_EQ(users, (std::set<std::string>{"system:bootstrap:abcdef", "system:node:worker-1"}));
}

TEST_F(AgentTest, ClockJumpPastTheDeadlineRotatesWithinASleepChunk) {
  server_.signing_duration = 1h;  // 65 minutes with the 5-minute backdating; rotation after 45-58
  timings_.max_sleep_chunk = 60s;
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  const auto installed = clock_->now();
  ASSERT_TRUE(run_until([&] { return clock_->now() - installed >= 5min; }));  // asleep, chunk by chunk
  EXPECT_EQ(server_.csrs_created(), 1) << "nothing is due for another 40 minutes";

  // The wall clock jumps 55 minutes ahead (suspend, an NTP step) while the agent sleeps.
  clock_->advance(55min);
  const auto jumped = clock_->now();
  ASSERT_TRUE(run_until([&] { return installs() == 2; }));
  EXPECT_EQ(server_.csrs_created(), 2);
  EXPECT_LE(server_.created_at().at(1) - jumped, 61s) << "noticed within one sleep chunk";
}

TEST_F(AgentTest, RotatesAgainAtEveryDeadline) {
  server_.signing_duration = 1h;
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 3; }));
  EXPECT_EQ(server_.csrs_created(), 3);
  const auto& at = server_.created_at();
  for (std::size_t i = 1; i < at.size(); ++i) {
    const double share = (at[i] - at[i - 1]) / 1.0h;  // of the requested hour
    EXPECT_GE(share, 0.6);
    EXPECT_LE(share, 0.95);
  }
}

TEST_F(AgentTest, ServingCertificateWaitsForTheClientAndIsRequestedAsTheNode) {
  settings_.serving = true;
  server_.auto_approve_serving = true;
  start({CertKind::Client, CertKind::Serving});
  ASSERT_TRUE(run_until([&] { return installs(CertKind::Client) == 1 && installs(CertKind::Serving) == 1; }));
  auto serving = current(CertKind::Serving);
  ASSERT_TRUE(serving.has_value());
  for (const auto& csr : server_.csrs()) {
    if (csr.signer_name == "kubernetes.io/kubelet-serving") {
      EXPECT_EQ(csr.username, "system:node:worker-1");
    }
  }
}

// ---- Events about the node (issue 11, section 2)

constexpr const char* kNodeUser = "system:node:worker-1";

// The shape of client-go's recorder for a Node, as recorded (event-create-201-as-node.json).
void expect_about_the_node(const PostedEvent& e, const std::string& type) {
  EXPECT_EQ(e.user, kNodeUser) << "posted as the node, never with the bootstrap token";
  EXPECT_EQ(e.event.namespace_, "default");
  EXPECT_EQ(e.event.involved.kind, "Node");
  EXPECT_EQ(e.event.involved.name, "worker-1");
  EXPECT_EQ(e.event.involved.uid, "worker-1");
  EXPECT_EQ(e.event.component, "kubelet-certd");
  EXPECT_EQ(e.event.host, "worker-1");
  EXPECT_EQ(e.event.type, type);
  EXPECT_EQ(e.event.name.rfind("worker-1.", 0), 0u) << e.event.name;
}

TEST_F(AgentTest, AnInstalledCertificateIsACertificateRotatedEventAboutTheNode) {
  start();
  ASSERT_TRUE(run_until([&] { return event_requests("CertificateRotated").size() == 1; }));
  const PostedEvent e = event_requests("CertificateRotated").at(0);
  EXPECT_EQ(e.verb, "create");
  EXPECT_EQ(e.status, 201);
  expect_about_the_node(e, "Normal");
  EXPECT_EQ(e.event.count, 1);
  EXPECT_EQ(e.event.message, "kubelet client certificate rotated; new certificate valid until " +
                                 to_rfc3339(current()->info.not_after));
  EXPECT_EQ(agent_->event_counts().created, 1);
}

TEST_F(AgentTest, ANodeWithoutAClientCertificatePostsNoEvent) {
  server_.faults.deny_all = true;  // the bootstrap CSR is denied: the node never gets a certificate
  start();
  ASSERT_TRUE(run_until([&] { return server_.csrs_created() == 2; }));
  EXPECT_TRUE(server_.event_requests().empty()) << "no Event goes out with the bootstrap token";
  // Once it has one, what waited goes out as the node.
  server_.faults.deny_all = false;
  ASSERT_TRUE(run_until([&] { return installs() == 1 && event_requests("CertificateRotated").size() == 1; }));
  for (const auto& e : server_.event_requests()) EXPECT_EQ(e.user, kNodeUser) << e.event.reason;
}

TEST_F(AgentTest, ADeniedRenewalIsACertificateSigningRequestDeniedWarning) {
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  server_.faults.deny_all = true;
  agent_->renew(CertKind::Client);
  ASSERT_TRUE(run_until([&] { return event_requests("CertificateSigningRequestDenied").size() == 1; }));
  const PostedEvent e = event_requests("CertificateSigningRequestDenied").at(0);
  expect_about_the_node(e, "Warning");
  EXPECT_NE(e.event.message.find("kubelet client certificate signing request node-csr-"), std::string::npos)
      << e.event.message;
  EXPECT_NE(e.event.message.find(" denied: DevapiDeny: This CSR was denied by the devapi deny_all fault."),
            std::string::npos)
      << e.event.message;
}

TEST_F(AgentTest, AFailedRenewalIsACertificateSigningRequestFailedWarning) {
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  server_.faults.fail_all = true;
  agent_->renew(CertKind::Client);
  ASSERT_TRUE(run_until([&] { return event_requests("CertificateSigningRequestFailed").size() == 1; }));
  const PostedEvent e = event_requests("CertificateSigningRequestFailed").at(0);
  expect_about_the_node(e, "Warning");
  EXPECT_NE(e.event.message.find(" failed: SignerValidationFailure: devapi: the fail_all fault is set"),
            std::string::npos)
      << e.event.message;
}

TEST_F(AgentTest, ARejectedCertificateIsACertificateRejectedWarning) {
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  server_.faults.wrong_key_certificate = true;
  agent_->renew(CertKind::Client);
  ASSERT_TRUE(run_until([&] { return event_requests("CertificateRejected").size() == 1; }));
  const PostedEvent e = event_requests("CertificateRejected").at(0);
  expect_about_the_node(e, "Warning");
  EXPECT_NE(e.event.message.find("kubelet client certificate issued for node-csr-"), std::string::npos)
      << e.event.message;
  EXPECT_NE(e.event.message.find(" rejected: "), std::string::npos) << e.event.message;
}

TEST_F(AgentTest, ACertificateCloseToExpiryWhoseRenewalFailsIsACertificateExpiringSoonWarning) {
  server_.signing_duration = 1h;  // always under 7 days left
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  server_.faults.deny_all = true;  // every renewal is denied
  ASSERT_TRUE(run_until([&] { return event_requests("CertificateExpiringSoon").size() == 1; }));
  const PostedEvent e = event_requests("CertificateExpiringSoon").at(0);
  expect_about_the_node(e, "Warning");
  EXPECT_NE(
      e.event.message.find("kubelet client certificate expires at " + to_rfc3339(current()->info.not_after)),
      std::string::npos)
      << e.event.message;
  EXPECT_GE(clock_->now(), *machine().persistent().deadline) << "only once the renewal is due";
  // Once per certificate, however long the renewal keeps failing.
  const auto t = clock_->now();
  ASSERT_TRUE(run_until([&] { return clock_->now() - t >= 30min; }, 200000));
  EXPECT_EQ(event_requests("CertificateExpiringSoon").size(), 1u);
}

TEST_F(AgentTest, AShortLivedCertificateRenewedInTimeIsNoExpiringSoonWarning) {
  server_.signing_duration = 1h;
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 3; }));
  EXPECT_TRUE(event_requests("CertificateExpiringSoon").empty());
}

TEST_F(AgentTest, AKubeletConfigRollbackIsAKubeletConfigRolledBackWarning) {
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  agent_->kubelet_config_rolled_back("kubelet config change rolled back: the kubelet did not come back");
  ASSERT_TRUE(run_until([&] { return event_requests("KubeletConfigRolledBack").size() == 1; }));
  const PostedEvent e = event_requests("KubeletConfigRolledBack").at(0);
  expect_about_the_node(e, "Warning");
  EXPECT_EQ(e.event.message, "kubelet config change rolled back: the kubelet did not come back");
}

TEST_F(AgentTest, RepeatsWithinTenMinutesPatchTheFirstEventWithItsCount) {
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1; }));
  for (int n = 2; n <= 3; ++n) {
    clock_->advance(2min);
    agent_->renew(CertKind::Client);
    ASSERT_TRUE(run_until(
        [&] { return installs() == n && event_requests("CertificateRotated").size() == std::size_t(n); }));
  }
  const auto requests = event_requests("CertificateRotated");
  EXPECT_EQ(requests[0].verb, "create");
  EXPECT_EQ(requests[1].verb, "patch");
  EXPECT_EQ(requests[1].event.count, 2);
  EXPECT_EQ(requests[2].verb, "patch");
  EXPECT_EQ(requests[2].event.count, 3);
  const auto stored = events("CertificateRotated");
  ASSERT_EQ(stored.size(), 1u) << "one Event, counted";
  EXPECT_EQ(stored[0].name, requests[0].event.name);
  EXPECT_EQ(stored[0].count, 3);
  EXPECT_EQ(stored[0].last, requests[2].event.last);
  EXPECT_EQ(stored[0].message, "kubelet client certificate rotated; new certificate valid until " +
                                   to_rfc3339(current()->info.not_after))
      << "the latest message";
  // Past ten minutes, a new Event.
  clock_->advance(11min);
  agent_->renew(CertKind::Client);
  ASSERT_TRUE(run_until([&] { return event_requests("CertificateRotated").size() == 4; }));
  EXPECT_EQ(event_requests("CertificateRotated")[3].verb, "create");
  EXPECT_EQ(events("CertificateRotated").size(), 2u);
}

TEST_F(AgentTest, EventsBeyondTheBurstAreDroppedAndCounted) {
  start();
  ASSERT_TRUE(run_until([&] { return event_requests("CertificateRotated").size() == 1; }));  // 1 token
  // The loop does not run in between: the virtual time stands still.
  for (int i = 0; i < 30; ++i) agent_->kubelet_config_rolled_back("rolled back");
  EXPECT_EQ(dropped("rate_limited"), 6) << "a burst of 25 in all";
  // One token every 5 minutes.
  clock_->advance(5min);
  agent_->kubelet_config_rolled_back("rolled back");
  agent_->kubelet_config_rolled_back("rolled back");
  EXPECT_EQ(dropped("rate_limited"), 7);
  ASSERT_TRUE(run_until([&] { return server_.event_requests().size() == 26; }));
  const auto stored = events("KubeletConfigRolledBack");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].count, 25);
  EXPECT_EQ(agent_->event_counts().created, 2);
  EXPECT_EQ(agent_->event_counts().patched, 24);
}

TEST_F(AgentTest, AForbiddenEventIsLoggedOnceAndPostingStops) {
  capture_logs("warn");
  server_.faults.events_forbidden = true;
  start();
  ASSERT_TRUE(run_until([&] { return server_.event_requests().size() == 1; }));
  agent_->kubelet_config_rolled_back("rolled back");
  agent_->renew(CertKind::Client);
  ASSERT_TRUE(run_until([&] { return installs() == 2; }));
  agent_->kubelet_config_rolled_back("rolled back again");
  ASSERT_TRUE(run_until([&] { return dropped("refused") >= 1; }));
  run_until([] { return false; }, 2000);  // whatever else would be sent by now
  EXPECT_EQ(server_.event_requests().size(), 1u) << "nothing more after a 403";
  EXPECT_EQ(server_.event_requests()[0].status, 403);
  EXPECT_EQ(logged("events refused, no more are posted until the daemon restarts"), 1u) << logs_.str();
  EXPECT_EQ(logged("NodeRestriction"), 1u);
}

TEST_F(AgentTest, AnEventWhosePostHangsDoesNotDelayTheRotation) {
  start();
  ASSERT_TRUE(run_until([&] { return installs() == 1 && !server_.event_requests().empty(); }));
  // How long a renewal takes on the virtual clock when Events are answered...
  auto t = clock_->now();
  agent_->renew(CertKind::Client);
  ASSERT_TRUE(run_until([&] { return installs() == 2; }));
  const auto answered = clock_->now() - t;
  // ... and when an Event request never is.
  server_.faults.hang_events = true;
  agent_->kubelet_config_rolled_back("rolled back");
  t = clock_->now();
  agent_->renew(CertKind::Client);
  ASSERT_TRUE(run_until([&] { return installs() == 3; }));
  EXPECT_EQ(clock_->now() - t, answered) << "installed after the same virtual time";
  EXPECT_TRUE(event_requests("KubeletConfigRolledBack").empty()) << "still hanging";
  stop();  // the runs end although the Event request still hangs
}

// ---- The serving pre-check: the approver's own rules against the Node

TEST_F(AgentTest, ServingPreCheckPassesWhenTheSansAreTheNodesAddresses) {
  capture_logs("info");
  settings_.serving = true;
  server_.auto_approve_serving = true;
  server_.nodes["worker-1"] = {{"InternalIP", "10.0.0.5"}, {"Hostname", "worker-1"}};
  start({CertKind::Client, CertKind::Serving});
  ASSERT_TRUE(run_until([&] { return installs(CertKind::Serving) == 1; }));
  EXPECT_EQ(server_.requests("GET node"), 1);
  EXPECT_EQ(logged("serving request passes the approver rules"), 1u) << logs_.str();
  EXPECT_EQ(logged("serving request breaks an approver rule"), 0u);
}

TEST_F(AgentTest, ServingPreCheckWarnsNamingTheRuleAndStillFiles) {
  capture_logs("info");
  settings_.serving = true;
  server_.auto_approve_serving = true;
  server_.nodes["worker-1"] = {{"InternalIP", "10.0.0.9"}, {"Hostname", "worker-1"}};
  start({CertKind::Client, CertKind::Serving});
  ASSERT_TRUE(run_until([&] { return installs(CertKind::Serving) == 1; }));
  EXPECT_EQ(logged("serving request breaks an approver rule"), 1u) << logs_.str();
  EXPECT_NE(logs_.str().find("10.0.0.5"), std::string::npos) << "the message names the address";
  EXPECT_EQ(logs_.str().find("rule=\"\""), std::string::npos);
}

TEST_F(AgentTest, ServingPreCheckWaitsForAnUnregisteredNodeAtInfo) {
  capture_logs("info");
  settings_.serving = true;
  server_.auto_approve_serving = true;
  start({CertKind::Client, CertKind::Serving});  // no Node worker-1
  ASSERT_TRUE(run_until([&] { return installs(CertKind::Serving) == 1; }));
  EXPECT_EQ(logged("serving request approver pre-check cannot decide yet"), 1u) << logs_.str();
  EXPECT_NE(logs_.str().find("NodeNotFound"), std::string::npos);
  EXPECT_EQ(logs_.str().find(" warn "), std::string::npos) << logs_.str();
}

// Blocks whoever waits on it until it is opened; shared with threads that may outlive a test.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<bool> entered{false};
  void wait() {
    entered = true;
    std::unique_lock lock(mu);
    cv.wait(lock, [this] { return open; });
  }
  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

bool within_seconds(const std::atomic<bool>& flag, int seconds) {
  for (int i = 0; i < seconds * 100 && !flag; ++i) std::this_thread::sleep_for(10ms);
  return flag;
}

// RSA-4096 takes seconds: the key is generated off the loop, and a stop abandons it.
TEST_F(AgentTest, AKeyGenerationInProgressNeitherBlocksTheLoopNorAStop) {
  auto entered = std::make_shared<std::atomic<bool>>(false);
  generate_key_ = [entered](KeyAlgorithm, const std::atomic<bool>& stop) {
    *entered = true;
    while (!stop) std::this_thread::sleep_for(1ms);
    return ossl::PKeyPtr();
  };
  start();
  ASSERT_TRUE(run_until([&] { return entered->load(); }) || within_seconds(*entered, 10));
  bool served = false;
  boost::asio::post(io_, [&served] { served = true; });
  EXPECT_TRUE(run_until([&] { return served; })) << "the loop kept running while the key is generated";
  stop();
  EXPECT_EQ(server_.csrs_created(), 0);
  EXPECT_FALSE(fs::exists(rotation::Store(settings_.cert_dir, CertKind::Client).pending_key_path()))
      << "an abandoned generation writes no key";
}

}  // namespace
}  // namespace kcd::testing
