// Faults from devapi, each with the outcome and the number of CSRs it may cost: the API server
// down, silent watches, 410, 429, 5xx, a revoked token, denials, failures, no approver, a
// certificate for the wrong key.
#include "tests/integration/harness.hpp"

#include <csignal>

namespace kcd::testing {
namespace {

const std::vector<std::string> kFast = {"--backoff-initial", "100ms", "--backoff-cap", "500ms"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class Faults : public AgentHarness {
 protected:
  void SetUp() override {
    AgentHarness::SetUp();
    write_config("serving: false\ncsrCreateInterval: 2s\n");
  }
  void set(const std::function<void(devapi::Faults&)>& f) {
    auto faults = server_->faults();
    f(faults);
    server_->set_faults(faults);
  }
};

TEST_F(Faults, ApiServerDownThenBackIsRetriedWithBackoffAndOneCsr) {
  set([](devapi::Faults& f) { f.refuse_connections = true; });
  auto d = daemon(kFast);
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(server_->csrs_created(), 0);
  EXPECT_TRUE(d->running());
  set([](devapi::Faults& f) { f.refuse_connections = false; });
  EXPECT_TRUE(eventually([&] { return current().has_value(); }, 10s));
  d->signal(SIGTERM);
  d->wait_for(5s);
  collect(*d);
  EXPECT_EQ(server_->csrs_created(), 1);
  // Backed off, not a tight loop: a handful of attempts in 3 s with a 500 ms cap.
  EXPECT_GE(log_count("retrying later"), 3u);
  EXPECT_LE(log_count("retrying later"), 40u);
}

TEST_F(Faults, SilentWatchIsDetectedAndTheCsrLookedUp) {
  set([](devapi::Faults& f) { f.silent_watches = true; });
  const auto t0 = std::chrono::steady_clock::now();
  auto out = run("run", with({"--once", "--watch-timeout", "1s"}, kFast));
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_NE(out.err.find("watch silent, reconnecting"), std::string::npos) << out.err;
  EXPECT_EQ(server_->csrs_created(), 1);
}

TEST_F(Faults, WatchTooOldLeadsToAGetAndANewWatch) {
  set([](devapi::Faults& f) { f.watch_too_old = true; });
  auto out = run("run", with({"--once"}, kFast));
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE(out.err.find("watch expired, relisting"), std::string::npos) << out.err;
  EXPECT_EQ(server_->csrs_created(), 1);
  EXPECT_GE(server_->request_counts()["GET csr"], 1);
}

TEST_F(Faults, DroppedWatchesAreBackedOffAndRecovered) {
  set([](devapi::Faults& f) { f.drop_watches = true; });
  auto d = daemon(kFast);
  std::this_thread::sleep_for(1500ms);
  set([](devapi::Faults& f) { f.drop_watches = false; });
  EXPECT_TRUE(eventually([&] { return current().has_value(); }, 10s));
  d->signal(SIGTERM);
  d->wait_for(5s);
  collect(*d);
  EXPECT_EQ(server_->csrs_created(), 1);
  EXPECT_LE(server_->request_counts()["WATCH csr"], 20);
}

TEST_F(Faults, TooManyRequestsHonoursRetryAfter) {
  set([](devapi::Faults& f) {
    f.throttle_next = 2;
    f.retry_after_seconds = 1;
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto out = run("run", with({"--once"}, kFast));
  EXPECT_EQ(out.exit_code, 0) << out.err;
  // Two 429s with Retry-After: 1 each: at least 2 s, although the backoff cap is 500 ms.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(server_->csrs_created(), 1);
  EXPECT_EQ(server_->request_counts()["fault 429"], 2);
}

TEST_F(Faults, ServerErrorsAreRetried) {
  set([](devapi::Faults& f) { f.fail_next_with_5xx = 3; });
  auto out = run("run", with({"--once"}, kFast));
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(server_->csrs_created(), 1);
  EXPECT_EQ(server_->request_counts()["fault 5xx"], 3);
}

TEST_F(Faults, RevokedBootstrapTokenIsReportedAndANewKubeconfigIsPickedUpWithoutRestart) {
  server_->stop();
  devapi::Options opts;
  opts.bootstrap_tokens = {"aaaaaa.0123456789abcdef", "bbbbbb.0123456789abcdef"};
  start_devapi(opts);
  set([](devapi::Faults& f) { f.revoked_tokens = {"aaaaaa.0123456789abcdef"}; });
  auto d = daemon(kFast);
  ASSERT_TRUE(eventually([&] { return d->err().find("401 Unauthorized") != std::string::npos; }, 10s)) << d->err();
  EXPECT_TRUE(d->running());
  EXPECT_FALSE(current().has_value());
  // Configuration management drops a kubeconfig with a fresh token.
  std::string kc = read_text(server_->bootstrap_kubeconfig_path());
  kc.replace(kc.find("aaaaaa.0123456789abcdef"), 23, "bbbbbb.0123456789abcdef");
  std::ofstream(server_->bootstrap_kubeconfig_path()) << kc;
  EXPECT_TRUE(eventually([&] { return current().has_value(); }, 10s)) << d->err();
  d->signal(SIGTERM);
  d->wait_for(5s);
  collect(*d);
  EXPECT_EQ(server_->csrs_created(), 1);
  EXPECT_EQ(logs_.find("aaaaaa.0123456789abcdef"), std::string::npos);
  EXPECT_EQ(logs_.find("bbbbbb.0123456789abcdef"), std::string::npos);
}

TEST_F(Faults, MissingBootstrapKubeconfigDroppedInLaterIsPickedUp) {
  const fs::path later = tmp_ / "later" / "bootstrap-kubelet.conf";
  auto a = args("run", kFast);
  for (std::size_t i = 0; i + 1 < a.size(); ++i) {
    if (a[i] == "--bootstrap-kubeconfig") a[i + 1] = later.string();
  }
  Subprocess d(a, tmp_ / "logs");
  ASSERT_TRUE(eventually([&] { return d.err().find("bootstrap kubeconfig") != std::string::npos; }, 10s)) << d.err();
  fs::create_directories(later.parent_path());
  fs::copy_file(server_->bootstrap_kubeconfig_path(), later);
  EXPECT_TRUE(eventually([&] { return current().has_value(); }, 10s));
  d.signal(SIGTERM);
  d.wait_for(5s);
  collect(d);
  EXPECT_NE(logs_.find("place a bootstrap kubeconfig at " + later.string()), std::string::npos) << logs_;
  EXPECT_EQ(server_->csrs_created(), 1);
}

TEST_F(Faults, DenialsAreRateLimitedByTheCsrCreateInterval) {
  set([](devapi::Faults& f) { f.deny_all = true; });
  auto d = daemon(kFast);
  std::this_thread::sleep_for(5s);
  d->signal(SIGTERM);
  d->wait_for(5s);
  collect(*d);
  // One CSR at once, then at most one per 2 s: 1 + 5/2 -> at most 3 (kubelet: one every 32 s
  // after a denial would be fine here, but 15-minute loops of new CSRs are what we avoid).
  EXPECT_GE(server_->csrs_created(), 2);
  EXPECT_LE(server_->csrs_created(), 3);
  EXPECT_FALSE(current().has_value());
  const auto keys = csr_public_keys();
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size()) << "a new key for every CSR";
  EXPECT_NE(logs_.find("was denied"), std::string::npos);
}

TEST_F(Faults, FailedCsrsAreRateLimitedToo) {
  set([](devapi::Faults& f) { f.fail_all = true; });
  auto out = run("run", with({"--once"}, kFast));
  EXPECT_EQ(out.exit_code, 4) << out.err;
  EXPECT_NE(out.err.find("failed: SignerValidationFailure"), std::string::npos) << out.err;
  EXPECT_EQ(server_->csrs_created(), 1);
}

TEST_F(Faults, NeverApprovedKeepsOneCsrAcrossWatchesAndRestarts) {
  server_->stop();
  devapi::Options opts;
  opts.auto_approve_client = false;
  start_devapi(opts);
  auto d = daemon(with({"--watch-timeout", "1s"}, kFast));
  std::this_thread::sleep_for(3500ms);
  EXPECT_GE(server_->request_counts()["WATCH csr"], 2);  // the watch was renewed
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_for(3s), std::optional<int>(0));
  collect(*d);
  auto again = daemon(kFast);
  std::this_thread::sleep_for(1s);
  again->signal(SIGTERM);
  again->wait_for(3s);
  collect(*again);
  EXPECT_EQ(server_->csrs_created(), 1);
  // Approve the one CSR: the next run installs it.
  server_->approve(server_->list_csrs().at(0)["metadata"]["name"], true);
  auto out = run("run", {"--once"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(server_->csrs_created(), 1);
}

TEST_F(Faults, CertificateForTheWrongKeyIsRejectedAndRateLimited) {
  set([](devapi::Faults& f) { f.wrong_key_certificate = true; });
  auto d = daemon(kFast);
  std::this_thread::sleep_for(3s);
  d->signal(SIGTERM);
  d->wait_for(5s);
  collect(*d);
  EXPECT_FALSE(current().has_value());
  EXPECT_GE(server_->csrs_created(), 1);
  EXPECT_LE(server_->csrs_created(), 2);
  EXPECT_NE(logs_.find("certificate rejected"), std::string::npos);
  EXPECT_FALSE(fs::exists(kubeconfig()));
}

// A typo in the server URL is a configuration error named with its position; the daemon
// reports it and never dies by a signal (it once re-parsed the URL per request and crashed).
TEST_F(Faults, ServerUrlTypoIsAConfigurationErrorNeverACrash) {
  std::string text = read_text(server_->bootstrap_kubeconfig_path());
  const auto at = text.find("server: https://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << text;
  const auto eol = text.find('\n', at);
  text.insert(eol, "x");
  const fs::path bad = server_->bootstrap_kubeconfig_path();
  std::ofstream(bad) << text;
  auto check = run("check-config");
  EXPECT_EQ(check.exit_code, 2) << check.out << check.err;
  EXPECT_NE(check.err.find(bad.string() + ":"), std::string::npos) << check.err;
  EXPECT_NE(check.err.find("cluster.server: "), std::string::npos) << check.err;
  EXPECT_NE(check.err.find("is not a number from 1 to 65535"), std::string::npos) << check.err;

  auto out = run("run", {"--once", "--timeout", "3s"});
  EXPECT_EQ(out.exit_code, 1) << "an error exit, not a signal: " << out.err;
  EXPECT_NE(out.err.find("is not a number from 1 to 65535"), std::string::npos) << out.err;
  EXPECT_EQ(server_->csrs_created(), 0);
}

}  // namespace
}  // namespace kcd::testing
