// Faults from devapi over real TLS, each with the outcome and the number of CSRs it may cost:
// the API server down, dropped watches, a revoked token, a bootstrap kubeconfig dropped in
// later, failures (--once's exit code), a server URL typo, numbers that mean nothing. Silent watches, 410,
// 429, 5xx, denials, a CSR never approved and a certificate for the wrong key are covered in process
// (tests/unit/daemon_agent_test.cpp, on the fake CSR API), without sleeping.
#include "tests/integration/harness.hpp"

#include <sys/stat.h>

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

TEST_F(Faults, RevokedBootstrapTokenIsReportedAndANewKubeconfigIsPickedUpWithoutRestart) {
  server_->stop();
  devapi::Options opts;
  opts.bootstrap_tokens = {"aaaaaa.0123456789abcdef", "bbbbbb.0123456789abcdef"};
  start_devapi(opts);
  set([](devapi::Faults& f) { f.revoked_tokens = {"aaaaaa.0123456789abcdef"}; });
  auto d = daemon(kFast);
  ASSERT_TRUE(eventually([&] { return d->err().find("401 Unauthorized") != std::string::npos; }, 10s))
      << d->err();
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
  ASSERT_TRUE(eventually([&] { return d.err().find("bootstrap kubeconfig") != std::string::npos; }, 10s))
      << d.err();
  fs::create_directories(later.parent_path());
  fs::copy_file(server_->bootstrap_kubeconfig_path(), later);
  EXPECT_TRUE(eventually([&] { return current().has_value(); }, 10s));
  d.signal(SIGTERM);
  d.wait_for(5s);
  collect(d);
  EXPECT_NE(logs_.find("place a bootstrap kubeconfig at " + later.string()), std::string::npos) << logs_;
  EXPECT_EQ(server_->csrs_created(), 1);
}

TEST_F(Faults, FailedCsrsAreRateLimitedToo) {
  set([](devapi::Faults& f) { f.fail_all = true; });
  auto out = run("run", with({"--once"}, kFast));
  EXPECT_EQ(out.exit_code, 4) << out.err;
  EXPECT_NE(out.err.find("failed: SignerValidationFailure"), std::string::npos) << out.err;
  EXPECT_EQ(server_->csrs_created(), 1);
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

// Issue 10, class 1, end to end: a number that means nothing is a configuration error, from
// the file (check-config exits 2 naming file:line:column) and from a flag, and `run --once`
// refuses to start (exit 2) instead of filing CSRs in a loop.
TEST_F(Faults, NumbersThatMeanNothingAreConfigurationErrors) {
  write_config("serving: false\nrotationWindow: nan%-90%\n");
  auto check = run("check-config");
  EXPECT_EQ(check.exit_code, 2) << check.out << check.err;
  EXPECT_NE(check.err.find(config_file().string() + ":9:17: rotationWindow: \"nan%-90%\" is not a window"),
            std::string::npos)
      << check.err;
  auto once = run("run", with({"--once", "--timeout", "3s"}, kFast));
  EXPECT_EQ(once.exit_code, 2) << once.err;

  write_config("serving: false\n");
  auto flag = run("check-config", {"--keep-certificates", "3x"});
  EXPECT_EQ(flag.exit_code, 2) << flag.out << flag.err;
  EXPECT_NE(flag.err.find("command line: --keep-certificates: \"3x\" is not an integer"), std::string::npos)
      << flag.err;
  auto window = run("check-config", {"--rotation-window", "0.01%-0.02%"});
  EXPECT_EQ(window.exit_code, 2) << window.out << window.err;
  EXPECT_NE(window.err.find("command line: --rotation-window: "), std::string::npos) << window.err;
  EXPECT_EQ(server_->csrs_created(), 0);
}

// Issue 10, class 4, end to end: a certDir another user can write is refused before anything
// is created or requested (exit 1, naming the folder and the fix).
TEST_F(Faults, AFolderOthersCanWriteIsRefusedBeforeAnythingHappens) {
  write_config("serving: false\n");
  fs::create_directories(cert_dir());
  ASSERT_EQ(::chmod(cert_dir().c_str(), 0777), 0);
  auto out = run("run", with({"--once", "--timeout", "3s"}, kFast));
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_NE(out.err.find("certDir: " + cert_dir().string() + ": writable by others (mode 0777)"),
            std::string::npos)
      << out.err;
  EXPECT_NE(out.err.find("fix: chmod go-w " + cert_dir().string()), std::string::npos) << out.err;
  EXPECT_TRUE(fs::is_empty(cert_dir())) << "no lock, key or state was created";
  EXPECT_FALSE(fs::exists(kubeconfig()));
  EXPECT_EQ(total_requests(), 0);
  ASSERT_EQ(::chmod(cert_dir().c_str(), 0755), 0);
  auto fixed = run("run", with({"--once", "--timeout", "20s"}, kFast));
  EXPECT_EQ(fixed.exit_code, 0) << fixed.err;
}

// Issue 10, class 5, end to end: two outputs on one file is a configuration error (exit 2)
// for check-config and for run, and nothing is written.
TEST_F(Faults, TwoOutputsOnOneFileAreAConfigurationError) {
  write_config("serving: false\nmetricsTextfile: " + kubeconfig().string() + "\n");
  auto check = run("check-config");
  EXPECT_EQ(check.exit_code, 2) << check.out << check.err;
  EXPECT_NE(check.err.find("metricsTextfile: " + kubeconfig().string() +
                           " is also kubeconfig (command line: --kubeconfig)"),
            std::string::npos)
      << check.err;
  auto once = run("run", with({"--once", "--timeout", "3s"}, kFast));
  EXPECT_EQ(once.exit_code, 2) << once.err;
  EXPECT_FALSE(fs::exists(cert_dir()));
  EXPECT_EQ(total_requests(), 0);
}

}  // namespace
}  // namespace kcd::testing
