// Crash safety: the daemon is SIGKILLed at every step of bootstrap and rotation (through its
// KCD_CRASH_AT hook) and at random moments, over 200+ runs, and restarted. After every kill:
// a current symlink, if present, resolves to a complete certificate+key that match; the
// kubeconfig, if present, points at it; no key ever has two CSRs; a filed CSR is reused.
#include "config/kubeconfig.hpp"
#include "tests/support/must.hpp"
#include "tests/integration/harness.hpp"

#include <csignal>
#include <map>
#include <random>

namespace kcd::testing {
namespace {

const std::vector<std::string> kSteps = {"key-written",  "csr-filed",       "cert-received",
                                         "file-written", "symlink-swapped", "kubeconfig-written"};
constexpr int kKilled = 128 + SIGKILL;

class Crash : public AgentHarness {
 protected:
  void SetUp() override {
    devapi::Options opts;
    opts.serving_approver = devapi::ServingApprover::All;
    start_devapi(opts);
  }

  // What must hold after any crash.
  void check_invariants(const std::string& when) {
    SCOPED_TRACE(when);
    for (const std::string prefix : {"kubelet-client", "kubelet-server"}) {
      const fs::path link = cert_dir() / (prefix + "-current.pem");
      if (fs::is_symlink(link)) {
        EXPECT_TRUE(current(prefix).has_value()) << link << " does not resolve to a complete, matching pair";
      }
    }
    if (fs::exists(kubeconfig())) {
      auto kc = config::load_kubeconfig(kubeconfig());
      ASSERT_TRUE(kc) << kc.error().format();
      EXPECT_EQ(kc->client_certificate_file, cert_dir() / "kubelet-client-current.pem");
      EXPECT_TRUE(current("kubelet-client").has_value()) << "kubeconfig points at a missing certificate";
    }
    const auto keys = csr_public_keys();
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size()) << "a key has two CSRs";
  }

  // A run that must complete: the node ends with valid certificates and no leftovers.
  void recover(const std::string& when) {
    auto out = run("run", {"--once", "--timeout", "30s"});
    ASSERT_EQ(out.exit_code, 0) << when << ": " << out.err;
    check_invariants(when + " (after recovery)");
    EXPECT_TRUE(current("kubelet-client").has_value());
    for (const auto& e : fs::directory_iterator(cert_dir())) {
      const std::string n = e.path().filename().string();
      EXPECT_EQ(n.find(".tmp-"), std::string::npos) << "leftover temp file " << n;
      EXPECT_EQ(n.find("pending.key"), std::string::npos) << "leftover pending key " << n;
    }
  }
};

TEST_F(Crash, KilledAtEveryStepOfBootstrapAndRotationResumesCleanly) {
  int runs = 0;
  for (const bool serving : {false, true}) {
    for (const auto& step : kSteps) {
      for (const bool rotation : {false, true}) {
        const std::string when =
            step + (rotation ? " (rotation)" : " (bootstrap)") + (serving ? " +serving" : "");
        fs::remove_all(cert_dir());
        fs::remove(kubeconfig());
        write_config(serving ? "" : "serving: false\n");
        if (rotation) {
          ASSERT_EQ(run("run", {"--once"}).exit_code, 0) << when;
        }
        const auto before = current();
        const int csrs_before = server_->csrs_created();

        auto crashed = rotation ? run("renew", {"client", "--once"}, {{"KCD_CRASH_AT", step}})
                                : run("run", {"--once"}, {{"KCD_CRASH_AT", step}});
        ++runs;
        ASSERT_EQ(crashed.exit_code, kKilled) << when << " did not crash: " << crashed.err;
        check_invariants(when);
        if (rotation && step != "symlink-swapped" && step != "kubeconfig-written") {
          // Before the swap the old certificate is still the current one.
          ASSERT_TRUE(current().has_value()) << when;
          EXPECT_EQ(current()->sha256_fingerprint, before->sha256_fingerprint) << when;
        }
        const int csrs_at_crash = server_->csrs_created();
        const fs::path pending = cert_dir() / "kubelet-certd-client-pending.key";
        const std::string pending_pem = fs::exists(pending) ? read_text(pending) : std::string();
        recover(when);
        if (step == "key-written" && !pending_pem.empty()) {
          // The key written before the crash is the key that got certified.
          auto installed = testing::must(rotation::load_private_key_pem(
              read_text(cert_dir() / "kubelet-client-current.pem"), "current"));
          EXPECT_TRUE(rotation::same_public_key(
              installed.get(), testing::must(rotation::load_private_key_pem(pending_pem, "pending")).get()))
              << when;
        } else if (step != "key-written") {
          // The client CSR filed before the crash is the one installed: the recovery files none
          // (a first bootstrap with serving still files the serving CSR, which waits for it).
          EXPECT_EQ(server_->csrs_created() - csrs_at_crash, serving && !rotation ? 1 : 0) << when;
          EXPECT_EQ(csrs_at_crash - csrs_before, 1) << when;
        }
        if (rotation) {
          EXPECT_NE(current()->sha256_fingerprint, before->sha256_fingerprint) << when;
        }
      }
    }
  }
  RecordProperty("targeted_runs", runs);
  EXPECT_EQ(runs, 24);
}

TEST_F(Crash, KilledAtRandomMomentsNeverLeavesAHalfInstalledCertificate) {
  std::mt19937 rng(std::random_device{}());
  // The kill moment is drawn from [0, how long such a run takes here]: a fixed window would
  // miss most runs on a faster machine and kill every run before its first request on a slower
  // one. Every run that finishes by itself narrows it; every killed run widens it a little.
  std::map<bool, int> window_ms{{false, 120}, {true, 120}};
  write_config();
  int runs = 0, killed = 0;
  for (int i = 0; i < 190; ++i) {
    const bool installed = current().has_value() && current("kubelet-server").has_value();
    auto a = installed ? args("renew", {"all", "--once"}) : args("run", {"--once"});
    const auto started = std::chrono::steady_clock::now();
    Subprocess p(a, tmp_ / "logs");
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, window_ms[installed])(rng)));
    p.signal(SIGKILL);
    auto code = p.wait_for(30s);
    ASSERT_TRUE(code.has_value());
    ++runs;
    if (*code == kKilled) {
      ++killed;
      // Killed before it could finish: the window may be shorter than a run takes here (a
      // sanitizer build on a busy machine): let it grow until runs finish again.
      window_ms[installed] = std::min(5000, window_ms[installed] + std::max(1, window_ms[installed] / 20));
    } else {
      const auto took =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      window_ms[installed] =
          std::max(5, std::min(window_ms[installed], static_cast<int>(took.count() * 9 / 10)));
    }
    logs_ += p.err();
    check_invariants("random kill " + std::to_string(i) + " after " + std::to_string(runs) + " runs");
    if (HasFailure()) break;
    if (i % 10 == 9) recover("random kill " + std::to_string(i));
  }
  recover("the end");
  RecordProperty("random_runs", runs);
  EXPECT_GE(runs, 190);
  EXPECT_GE(killed, 100) << "most runs should have been killed mid-way";
  EXPECT_GE(server_->csrs_created(), 10) << "the kills should have hit rotations too";
}

}  // namespace
}  // namespace kcd::testing
