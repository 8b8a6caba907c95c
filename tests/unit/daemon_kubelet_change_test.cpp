// The kubelet config change as the daemon and `check --fix` make it: written for the kubelet's
// version, the kubelet restarted and checked, and rolled back when it does not come back, with
// the refusal remembered until the kubelet or the settings change. systemd and the kubelet are
// played by a fake at the edge (unit states, restarts, healthz, the journal) in virtual time;
// everything else (files, state record, version detection) is real.
#include "daemon/kubelet_setup.hpp"
#include "daemon/restart_owed.hpp"
#include "base/base64.hpp"
#include "rotation/key.hpp"
#include "tests/support/must.hpp"
#include "tests/support/test_ca.hpp"
#include "tests/support/subprocess.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <future>

namespace kcd::daemon {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Result = KubeletChange::Result;

// A systemd with one kubelet unit. A restart makes the kubelet read its config file; a kubelet
// that `refuses` the text exits at once and systemd keeps restarting it (Restart=always), like
// a v1.24 kubelet given seccompDefault without its feature gate.
class FakeSystemd : public KubeletEffects {
 public:
  explicit FakeSystemd(fs::path config) : config_(std::move(config)) {}

  Expected<systemd::UnitState> unit_state() override {
    ++polls;
    if (!bus) return Unexpected(no_bus());
    return unit;
  }
  Expected<std::string> restart(bool only_if_running) override {
    if (!bus) return Unexpected(no_bus());
    restarts.push_back(only_if_running ? "try-restart" : "restart");
    const bool up = unit.active_state == "active" || unit.active_state == "activating";
    if (only_if_running && !up) return std::string("/job/1");
    start();
    return std::string("/job/2");
  }
  static Error no_bus() {
    return make_error(ErrorKind::Io, "cannot connect to the system bus: No such file or directory");
  }
  bool healthz(const std::string& host, int port) override {
    last_health = host + ":" + std::to_string(port);
    return healthy && answers;
  }
  std::vector<std::string> journal_tail() override { return {"failed to run Kubelet: " + refusal_text}; }
  bool wait(std::chrono::milliseconds d) override {
    now_ += d;
    if (stop_after && now_ - start_ > *stop_after) return false;
    return true;
  }
  std::chrono::steady_clock::time_point now() override { return now_; }

  void start() {
    std::ifstream in(config_);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (refuses && refuses(text)) {
      unit.active_state = "activating";
      unit.sub_state = "auto-restart";
      unit.n_restarts++;
      unit.main_pid = 0;
      healthy = false;
    } else {
      unit.active_state = "active";
      unit.sub_state = "running";
      unit.main_pid = ++pids_;
      healthy = true;
    }
  }

  systemd::UnitState unit{"loaded", "active", "running", 100, 0};
  bool healthy = true;
  bool answers = true;  // false: up, but healthz never says ok (yet)
  bool bus = true;
  std::function<bool(const std::string&)> refuses;
  std::string refusal_text =
      "the SeccompDefault feature gate must be enabled in order to use the SeccompDefault configuration";
  std::vector<std::string> restarts;
  std::string last_health;
  int polls = 0;
  std::optional<std::chrono::milliseconds> stop_after;

 private:
  fs::path config_;
  std::chrono::steady_clock::time_point start_{}, now_{};
  pid_t pids_ = 100;
};

bool has_seccomp(const std::string& text) {
  return text.find("seccompDefault: true") != std::string::npos;
}

class KubeletChangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the stand-in kubelet must be owned by root to be run";
    settings_.cert_dir = tmp_ / "pki";
    settings_.kubelet_config = tmp_ / "config.yaml";
    settings_.client_ca_file = tmp_ / "ca.crt";
    settings_.kubeconfig = tmp_ / "kubelet.conf";
    settings_.bootstrap_kubeconfig = tmp_ / "bootstrap.conf";
    settings_.kubelet_restart = config::KubeletRestart::Auto;
    settings_.serving = false;
    fs::create_directories(settings_.cert_dir);
    kubelet("1.30.4");
    write(settings_.kubelet_config, original_);
  }

  // The kubelet binary (kubeletPath) reports `version`.
  void kubelet(const std::string& version) {
    const fs::path p = tmp_ / ("kubelet-" + version);
    write(p, "#!/bin/sh\necho 'Kubernetes v" + version + "'\n");
    fs::permissions(p, static_cast<fs::perms>(0755));
    settings_.kubelet_path = p;
  }
  static void write(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
  }
  static std::string read(const fs::path& p) { return testing::read_text(p); }

  KubeletChange apply(FakeSystemd& fx) {
    plan_ = testing::must(plan_kubelet(settings_, {tmp_.path(), 0}));
    return testing::must(apply_kubelet_plan(settings_, plan_, &fx, policy_));
  }
  KubeletChange recover(FakeSystemd& fx) {
    return testing::must(recover_kubelet_change(settings_, fx, policy_));
  }
  kubelet::ChangeState state() { return testing::must(load_change_state(settings_.cert_dir)); }

  testing::TempDir tmp_;
  config::Settings settings_;
  HealthPolicy policy_{std::chrono::seconds(60), std::chrono::milliseconds(5000),
                       std::chrono::milliseconds(500)};
  KubeletPlan plan_;
  const std::string original_ =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n# ours\nreadOnlyPort: "
      "10255\nhealthzPort: 10999\n";
};

TEST_F(KubeletChangeTest, AChangeTheKubeletAcceptsIsWrittenRestartedAndChecked) {
  FakeSystemd fx(settings_.kubelet_config);
  const KubeletChange c = apply(fx);
  EXPECT_EQ(c.result, Result::Healthy) << c.detail;
  EXPECT_TRUE(has_seccomp(read(settings_.kubelet_config)));
  EXPECT_EQ(fx.restarts, std::vector<std::string>{"try-restart"});
  EXPECT_EQ(fx.last_health, "127.0.0.1:10999") << "healthz from the file's healthzPort";
  EXPECT_EQ(read(kubelet_config_backup(settings_.kubelet_config)), original_);
  const auto st = state();
  EXPECT_FALSE(st.pending) << "a confirmed change is no longer pending";
  EXPECT_EQ(st.rollbacks, 0);
  EXPECT_THAT(st.kubelet, HasSubstr("v1.30.4"));
}

TEST_F(KubeletChangeTest, AKubeletThatDoesNotComeBackIsRolledBackAndTheChangeIsNotTriedAgain) {
  // kubeletPath says 1.30, but the kubelet that runs refuses seccompDefault, like 1.24 does.
  FakeSystemd fx(settings_.kubelet_config);
  fx.refuses = has_seccomp;
  const KubeletChange c = apply(fx);
  EXPECT_EQ(c.result, Result::RolledBack) << c.detail;
  EXPECT_THAT(c.detail, HasSubstr("systemd is restarting it"));
  EXPECT_EQ(read(settings_.kubelet_config), original_) << "the previous file is back";
  EXPECT_EQ(fx.restarts, (std::vector<std::string>{"try-restart", "restart"}));
  EXPECT_TRUE(fx.unit.running()) << "the kubelet runs again, with the old file";
  EXPECT_THAT(c.refused_keys, ::testing::Contains("seccompDefault"));
  ASSERT_FALSE(c.journal.empty());
  EXPECT_THAT(c.journal[0], HasSubstr("SeccompDefault feature gate"));
  auto st = state();
  EXPECT_EQ(st.rollbacks, 1);
  EXPECT_FALSE(st.pending);
  ASSERT_TRUE(st.refused);
  EXPECT_TRUE(st.refused->keys.count("seccompDefault"));

  // The next start plans the same change: held back, nothing written, no restart.
  fx.restarts.clear();
  const KubeletChange again = apply(fx);
  EXPECT_EQ(again.result, Result::Unchanged);
  EXPECT_TRUE(fx.restarts.empty());
  EXPECT_EQ(read(settings_.kubelet_config), original_);
  ASSERT_FALSE(plan_.patch.held_back.empty());
  EXPECT_THAT(plan_.patch.held_back[0].reason, HasSubstr("did not come back"));

  // A new kubelet version is worth one more try.
  kubelet("1.31.0");
  fx.refuses = nullptr;
  const KubeletChange upgraded = apply(fx);
  EXPECT_EQ(upgraded.result, Result::Healthy) << upgraded.detail;
  EXPECT_TRUE(has_seccomp(read(settings_.kubelet_config)));
}

TEST_F(KubeletChangeTest, OnKubelet124SeccompDefaultIsNeverWritten) {
  kubelet("1.24.17");
  FakeSystemd fx(settings_.kubelet_config);
  fx.refuses = has_seccomp;
  const KubeletChange c = apply(fx);
  EXPECT_EQ(c.result, Result::Healthy) << c.detail;
  EXPECT_FALSE(has_seccomp(read(settings_.kubelet_config)));
  EXPECT_NE(read(settings_.kubelet_config).find("readOnlyPort: 0"), std::string::npos);
  ASSERT_EQ(plan_.patch.held_back.size(), 1u);
  EXPECT_EQ(plan_.patch.held_back[0].reason,
            "seccompDefault needs the SeccompDefault feature gate on kubelet 1.24");
}

TEST_F(KubeletChangeTest, AKubeletThatIsNotRunningIsNotStarted) {
  FakeSystemd fx(settings_.kubelet_config);
  fx.unit = {"loaded", "inactive", "dead", 0, 0};
  const KubeletChange c = apply(fx);
  EXPECT_EQ(c.result, Result::Written);
  EXPECT_THAT(c.detail, HasSubstr("not started by kubelet-certd"));
  EXPECT_TRUE(fx.restarts.empty());
  EXPECT_EQ(fx.unit.active_state, "inactive");
  EXPECT_FALSE(state().pending);
}

TEST_F(KubeletChangeTest, KubeletRestartNeverRestartsNothing) {
  settings_.kubelet_restart = config::KubeletRestart::Never;
  FakeSystemd fx(settings_.kubelet_config);
  EXPECT_EQ(apply(fx).result, Result::Written);
  EXPECT_TRUE(fx.restarts.empty());
  EXPECT_TRUE(has_seccomp(read(settings_.kubelet_config))) << "the version table alone decides";
}

TEST_F(KubeletChangeTest, NoSystemBusMeansNotRestartedAndSaysSo) {
  FakeSystemd fx(settings_.kubelet_config);
  fx.bus = false;
  const KubeletChange c = apply(fx);
  EXPECT_EQ(c.result, Result::NotRestarted);
  EXPECT_THAT(c.detail, HasSubstr("system bus"));
  EXPECT_FALSE(state().pending);
}

TEST_F(KubeletChangeTest, AKubeletThatNeverAnswersHealthzIsRolledBackAfterTheBound) {
  FakeSystemd fx(settings_.kubelet_config);
  fx.refuses = nullptr;
  const KubeletChange c = [&] {
    plan_ = testing::must(plan_kubelet(settings_, {tmp_.path(), 0}));
    // Comes up (active, running) but never answers ok.
    struct Silent : FakeSystemd {
      using FakeSystemd::FakeSystemd;
      bool healthz(const std::string&, int) override { return false; }
    } silent(settings_.kubelet_config);
    const auto r = testing::must(apply_kubelet_plan(settings_, plan_, &silent, policy_));
    EXPECT_EQ(silent.restarts.size(), 2u);
    return r;
  }();
  EXPECT_EQ(c.result, Result::RollbackFailed)
      << "even the old file does not bring healthz back: " << c.detail;
  EXPECT_THAT(c.detail, HasSubstr("not healthy within 60s"));
  EXPECT_EQ(read(settings_.kubelet_config), original_);
}

TEST_F(KubeletChangeTest, AChangeLeftUncheckedByAStopIsFinishedAtTheNextStart) {
  FakeSystemd fx(settings_.kubelet_config);
  fx.answers = false;
  fx.stop_after = std::chrono::milliseconds(1000);  // SIGTERM while waiting for the kubelet
  const KubeletChange c = apply(fx);
  EXPECT_EQ(c.result, Result::Interrupted);
  ASSERT_TRUE(state().pending) << "the change stays recorded";
  EXPECT_TRUE(has_seccomp(read(settings_.kubelet_config)));

  // The next start: the kubelet is crash-looping on the change: rolled back, remembered.
  FakeSystemd next(settings_.kubelet_config);
  next.refuses = has_seccomp;
  next.start();
  const KubeletChange r = recover(next);
  EXPECT_EQ(r.result, Result::RolledBack) << r.detail;
  EXPECT_EQ(read(settings_.kubelet_config), original_);
  EXPECT_FALSE(state().pending);
  EXPECT_EQ(state().rollbacks, 1);

  // Nothing pending: nothing to do.
  EXPECT_EQ(recover(next).result, Result::Unchanged);
}

TEST_F(KubeletChangeTest, AnUncheckedChangeIsNotRolledBackBlindWhenSystemdCannotBeAsked) {
  FakeSystemd fx(settings_.kubelet_config);
  fx.stop_after = std::chrono::milliseconds(1000);
  fx.answers = false;
  ASSERT_EQ(apply(fx).result, Result::Interrupted);
  FakeSystemd blind(settings_.kubelet_config);
  blind.bus = false;
  const KubeletChange r = recover(blind);
  EXPECT_EQ(r.result, Result::Interrupted) << r.detail;
  EXPECT_THAT(r.detail, HasSubstr("cannot be read"));
  EXPECT_TRUE(has_seccomp(read(settings_.kubelet_config))) << "left as it is";
  EXPECT_TRUE(state().pending) << "still recorded for a start that can see";
}

TEST_F(KubeletChangeTest, AnUncheckedChangeThatTheKubeletRunsHappilyIsConfirmed) {
  FakeSystemd fx(settings_.kubelet_config);
  fx.stop_after = std::chrono::milliseconds(1000);
  ASSERT_EQ(apply(fx).result, Result::Interrupted);
  FakeSystemd next(settings_.kubelet_config);
  next.start();
  const KubeletChange r = recover(next);
  EXPECT_EQ(r.result, Result::Healthy) << r.detail;
  EXPECT_TRUE(has_seccomp(read(settings_.kubelet_config)));
  EXPECT_TRUE(next.restarts.empty()) << "checking does not restart";
  EXPECT_FALSE(state().pending);
}

TEST_F(KubeletChangeTest, ACorruptChangeRecordIsSetAsideAndRebuilt) {
  const fs::path record = settings_.cert_dir / kubelet::kChangeStateFileName;
  write(record, "{\"apiVersion\": 3}");
  fs::permissions(record, fs::perms::owner_read | fs::perms::owner_write);  // as the daemon writes it
  const auto loaded = load_change_state(settings_.cert_dir);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().kind, ErrorKind::Corrupt);
  EXPECT_THAT(loaded.error().format(), HasSubstr("set aside"));
  EXPECT_TRUE(fs::exists(settings_.cert_dir / (std::string(kubelet::kChangeStateFileName) + ".corrupt")));
  FakeSystemd fx(settings_.kubelet_config);
  EXPECT_EQ(apply(fx).result, Result::Healthy);
}

// The client CA file: written from the cluster's bundle when absent, with a marker; updated
// (the kubelet restarted once) when it is ours and the bundle changed; never when the operator's.
class ClientCaTest : public KubeletChangeTest {
 protected:
  void SetUp() override {
    KubeletChangeTest::SetUp();
    if (IsSkipped()) return;
    kubelet_conf(old_ca_.cert_pem());
  }
  // kubelet.conf with `ca_pem` as its certificate-authority-data.
  void kubelet_conf(const std::string& ca_pem) {
    write(
        settings_.kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n"
        "    certificate-authority-data: " +
            base64_encode(ca_pem) +
            "\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n- name: "
            "u\n"
            "  user: {token: abcdef.0123456789abcdef}\n");
  }
  KubeletChange apply_ca_change(FakeSystemd& fx) {
    plan_ = testing::must(plan_kubelet(settings_, {tmp_.path(), 0}));
    plan_.cluster_ca_changed = true;
    return testing::must(apply_kubelet_plan(settings_, plan_, &fx, policy_));
  }
  const testing::TestCa old_ca_ = testing::TestCa::create_root("kubernetes", KeyAlgorithm::EcdsaP256);
  const testing::TestCa new_ca_ = testing::TestCa::create_root("kubernetes", KeyAlgorithm::EcdsaP256);
};

TEST_F(ClientCaTest, WrittenWhenAbsentAndUpdatedWhenTheBundleChanges) {
  FakeSystemd fx(settings_.kubelet_config);
  const KubeletChange first = apply(fx);
  EXPECT_TRUE(first.ca_written);
  EXPECT_EQ(read(settings_.client_ca_file), old_ca_.cert_pem());
  ASSERT_TRUE(state().client_ca);
  EXPECT_EQ(state().client_ca->path, settings_.client_ca_file.string());
  EXPECT_EQ(fx.restarts.size(), 1u) << "the config change's restart";

  // The bundle grows (kubelet.conf replaced by the follower): the file follows, one restart.
  kubelet_conf(old_ca_.cert_pem() + new_ca_.cert_pem());
  const KubeletChange grown = apply_ca_change(fx);
  EXPECT_TRUE(grown.ca_updated);
  EXPECT_TRUE(grown.ca_restart);
  EXPECT_EQ(grown.result, Result::Healthy) << grown.detail;
  EXPECT_EQ(read(settings_.client_ca_file), old_ca_.cert_pem() + new_ca_.cert_pem());
  EXPECT_EQ(fx.restarts.size(), 2u);

  // Nothing changed: nothing written, no restart.
  const KubeletChange again = apply(fx);
  EXPECT_FALSE(again.ca_updated);
  EXPECT_EQ(again.result, Result::Unchanged);
  EXPECT_EQ(fx.restarts.size(), 2u);
}

TEST_F(ClientCaTest, TheOperatorsFileIsNeverTouched) {
  write(settings_.client_ca_file, new_ca_.cert_pem());  // there before us: no marker
  FakeSystemd fx(settings_.kubelet_config);
  (void)apply(fx);
  EXPECT_EQ(read(settings_.client_ca_file), new_ca_.cert_pem());
  EXPECT_FALSE(state().client_ca);
  kubelet_conf(old_ca_.cert_pem() + new_ca_.cert_pem());
  (void)apply_ca_change(fx);
  EXPECT_EQ(read(settings_.client_ca_file), new_ca_.cert_pem());
}

TEST_F(ClientCaTest, OursEditedByTheOperatorBecomesTheirs) {
  FakeSystemd fx(settings_.kubelet_config);
  (void)apply(fx);
  write(settings_.client_ca_file, old_ca_.cert_pem() + "\n");  // an edit
  kubelet_conf(old_ca_.cert_pem() + new_ca_.cert_pem());
  const KubeletChange c = apply_ca_change(fx);
  EXPECT_FALSE(c.ca_updated);
  EXPECT_THAT(plan_.ca_foreign, HasSubstr("changed since kubelet-certd wrote it"));
  EXPECT_EQ(read(settings_.client_ca_file), old_ca_.cert_pem() + "\n");
  EXPECT_TRUE(c.ca_restart) << "kubelet.conf's CA changed: the kubelet still restarts for it";
}

TEST_F(ClientCaTest, ACrashBetweenTheMarkerAndTheFileLeavesItOurs) {
  FakeSystemd fx(settings_.kubelet_config);
  (void)apply(fx);
  // The marker names the next contents, the file still has the previous ones.
  auto st = state();
  st.client_ca->previous_sha256 = st.client_ca->sha256;
  st.client_ca->sha256 = std::string(64, 'e');
  testing::must(save_change_state(settings_.cert_dir, st));
  kubelet_conf(old_ca_.cert_pem() + new_ca_.cert_pem());
  EXPECT_TRUE(apply_ca_change(fx).ca_updated);
  EXPECT_EQ(read(settings_.client_ca_file), old_ca_.cert_pem() + new_ca_.cert_pem());
}

TEST_F(ClientCaTest, ABundleThatIsNotARealCaIsRefusedAndNothingIsWritten) {
  auto key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
  testing::CertSpec leaf;
  leaf.subject.common_name = "not-a-ca";
  leaf.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
  leaf.not_after = std::chrono::system_clock::now() + std::chrono::hours(1);
  kubelet_conf(old_ca_.cert_pem() + testing::to_pem(old_ca_.issue(key.get(), leaf).get()));
  FakeSystemd fx(settings_.kubelet_config);
  (void)apply(fx);
  EXPECT_FALSE(fs::exists(settings_.client_ca_file));
  EXPECT_THAT(plan_.ca_refused, HasSubstr(settings_.kubeconfig.string() + " (certificate-authority-data)"));
  EXPECT_THAT(plan_.ca_refused, HasSubstr("is not a CA"));
  EXPECT_EQ(read(settings_.kubelet_config).find("clientCAFile"), std::string::npos)
      << "a client CA file that does not exist is never named";
}

TEST_F(ClientCaTest, AnExpiredCaIsRefusedAndNothingIsWritten) {
  // Valid from an hour ago for no time at all: expired an hour ago.
  const auto expired =
      testing::TestCa::create_root("kubernetes", KeyAlgorithm::EcdsaP256, std::chrono::hours(0));
  kubelet_conf(expired.cert_pem());
  FakeSystemd fx(settings_.kubelet_config);
  (void)apply(fx);
  EXPECT_FALSE(fs::exists(settings_.client_ca_file));
  EXPECT_THAT(plan_.ca_refused, HasSubstr("expired on"));
  EXPECT_FALSE(state().client_ca);
}

TEST_F(ClientCaTest, KubeletRestartNeverLeavesTheRestartToTheOperator) {
  settings_.kubelet_restart = config::KubeletRestart::Never;
  FakeSystemd fx(settings_.kubelet_config);
  (void)apply(fx);
  kubelet_conf(old_ca_.cert_pem() + new_ca_.cert_pem());
  const KubeletChange c = apply_ca_change(fx);
  EXPECT_TRUE(c.ca_updated);
  EXPECT_EQ(c.result, Result::Written);
  EXPECT_EQ(c.detail, "kubeletRestart: never");
  EXPECT_TRUE(fx.restarts.empty());
  EXPECT_EQ(owed_kubelet_restart(settings_.cert_dir), "") << "declined: nothing stays owed";
}

// The restart a CA change needs is owed before the change and settled once done: a crash, a stop
// or a failed D-Bus call in between leaves it owed, and the next pass does it (once).
TEST_F(ClientCaTest, ARestartThatCouldNotBeDoneStaysOwedAndIsDoneByTheNextPass) {
  FakeSystemd fx(settings_.kubelet_config);
  (void)apply(fx);
  ASSERT_EQ(fx.restarts.size(), 1u);
  kubelet_conf(old_ca_.cert_pem() + new_ca_.cert_pem());
  fx.bus = false;  // the system bus is gone: the restart cannot be requested
  const KubeletChange failed = apply_ca_change(fx);
  EXPECT_TRUE(failed.ca_updated);
  EXPECT_EQ(failed.result, Result::NotRestarted) << failed.detail;
  EXPECT_EQ(read(settings_.client_ca_file), old_ca_.cert_pem() + new_ca_.cert_pem());
  EXPECT_THAT(owed_kubelet_restart(settings_.cert_dir), HasSubstr("client CA file"));

  // The next pass (a start, say) has nothing new to write, and still restarts: it was owed.
  fx.bus = true;
  const KubeletChange next = apply(fx);
  EXPECT_FALSE(next.ca_updated);
  EXPECT_TRUE(next.ca_restart);
  EXPECT_EQ(next.result, Result::Healthy) << next.detail;
  EXPECT_EQ(fx.restarts.size(), 2u);
  EXPECT_EQ(owed_kubelet_restart(settings_.cert_dir), "");

  // Settled: the pass after restarts nothing.
  EXPECT_EQ(apply(fx).result, Result::Unchanged);
  EXPECT_EQ(fx.restarts.size(), 2u);
}

// The cluster CA follower records the debt before it writes kubelet.conf; a crash before the
// kubelet worker's restart leaves it, and the next start's pass restarts the kubelet.
TEST_F(ClientCaTest, ARestartOwedByTheFollowerBeforeACrashIsDoneAtTheNextStart) {
  FakeSystemd fx(settings_.kubelet_config);
  (void)apply(fx);
  ASSERT_EQ(fx.restarts.size(), 1u);
  ASSERT_TRUE(owe_kubelet_restart(settings_.cert_dir, "cluster CA bundle changed", SysTime{}));
  // Nothing new to write (the client CA file matches already): the restart is still owed.
  const KubeletChange next = apply(fx);
  EXPECT_TRUE(next.ca_restart);
  EXPECT_EQ(next.result, Result::Healthy) << next.detail;
  EXPECT_EQ(fx.restarts.size(), 2u);
  EXPECT_EQ(owed_kubelet_restart(settings_.cert_dir), "");
}

// A debt recorded while a restart was under way is a newer one: settling the older leaves it.
TEST(RestartOwed, SettlingAnOlderRecordLeavesANewerOne) {
  testing::TempDir dir;
  const auto first = owe_kubelet_restart(dir.path(), "one", SysTime{});
  ASSERT_TRUE(first);
  const auto second = owe_kubelet_restart(dir.path(), "two", SysTime{} + std::chrono::seconds(1));
  ASSERT_TRUE(second);
  settle_kubelet_restart(dir.path(), *first);
  EXPECT_EQ(owed_kubelet_restart(dir.path()), "two at 1970-01-01T00:00:01.000Z\n");
  settle_kubelet_restart(dir.path(), *second);
  EXPECT_EQ(owed_kubelet_restart(dir.path()), "");
}

// The follower owes a restart for kubelet.conf, then the kubelet worker one for the client CA
// file: the second is added to the first, never written over it. Had it replaced the first, a
// restart that settled the worker's debt alone would have left the follower's change unpaid.
TEST(RestartOwed, ASecondDebtIsAddedToTheFirstNotWrittenOverIt) {
  testing::TempDir dir;
  ASSERT_TRUE(owe_kubelet_restart(dir.path(), "cluster CA bundle changed", SysTime{}));
  const auto both = owe_kubelet_restart(dir.path(), "client CA file updated", SysTime{});
  ASSERT_TRUE(both);
  EXPECT_EQ(*both,
            "cluster CA bundle changed at 1970-01-01T00:00:00.000Z\n"
            "client CA file updated at 1970-01-01T00:00:00.000Z\n");
  EXPECT_EQ(owed_kubelet_restart(dir.path()), *both);
  // A restart that read only the worker's debt pays only that one.
  settle_kubelet_restart(dir.path(), "client CA file updated at 1970-01-01T00:00:00.000Z\n");
  EXPECT_EQ(owed_kubelet_restart(dir.path()), "cluster CA bundle changed at 1970-01-01T00:00:00.000Z\n");
}

// The follower's kubelet.conf write happens under the record's lock: a reader (the worker, about
// to restart the kubelet) cannot see the debt before the change it is owed for is made.
TEST(RestartOwed, ADebtIsNotSeenBeforeItsChangeIsMade) {
  testing::TempDir dir;
  std::future<std::string> reader;
  bool reader_waited = false;
  const auto owed =
      owe_kubelet_restart(dir.path(), "cluster CA bundle changed", SysTime{}, [&]() -> Expected<void> {
        reader = std::async(std::launch::async, [&] { return owed_kubelet_restart(dir.path()); });
        reader_waited = reader.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout;
        return {};
      });
  ASSERT_TRUE(owed);
  EXPECT_TRUE(reader_waited) << "the record was read while the change was being made";
  EXPECT_EQ(reader.get(), *owed);
}

// The change failing leaves the debt recorded (one restart too many is the safe side).
TEST(RestartOwed, AFailedChangeLeavesTheDebtRecorded) {
  testing::TempDir dir;
  const auto owed = owe_kubelet_restart(
      dir.path(), "cluster CA bundle changed", SysTime{},
      []() -> Expected<void> { return Unexpected(make_error(ErrorKind::Io, "disk full")); });
  ASSERT_FALSE(owed);
  EXPECT_EQ(owed.error().message, "disk full");
  EXPECT_EQ(owed_kubelet_restart(dir.path()), "cluster CA bundle changed at 1970-01-01T00:00:00.000Z\n");
}

// Debts piling up while every restart fails stay within the record's limit, folded into one line
// that one restart settles.
TEST(RestartOwed, ManyDebtsAreFoldedWithinTheLimitAndNoneIsLost) {
  testing::TempDir dir;
  std::string last;
  for (int i = 0; i < 300; ++i) {
    auto owed = owe_kubelet_restart(dir.path(), "client CA file updated (" + std::to_string(i) + ")",
                                    SysTime{} + std::chrono::seconds(i));
    ASSERT_TRUE(owed) << i;
    last = *owed;
  }
  const std::string record = owed_kubelet_restart(dir.path());
  EXPECT_EQ(record, last);
  EXPECT_LE(record.size(), kMaxRestartOwedBytes);
  EXPECT_THAT(record, HasSubstr("several CA changes"));
  EXPECT_THAT(record, HasSubstr("(299)")) << "the newest debt is named";
  settle_kubelet_restart(dir.path(), last);
  EXPECT_EQ(owed_kubelet_restart(dir.path()), "");
}

TEST(HealthEndpoint, ComesFromTheKubeletsConfigWithItsDefaults) {
  EXPECT_EQ(health_endpoint("").port, 10248);
  EXPECT_EQ(health_endpoint("").host, "127.0.0.1");
  const auto h = health_endpoint("healthzBindAddress: 0.0.0.0\nhealthzPort: 0\n");
  EXPECT_EQ(h.host, "127.0.0.1");
  EXPECT_EQ(h.port, 0);
  EXPECT_EQ(health_endpoint("healthzBindAddress: \"::\"\nhealthzPort: 10999\n").host, "::1");
  EXPECT_EQ(health_endpoint("healthzPort: [broken").port, 10248);
  // Exactly a port or the default: no partial parse, no out-of-range number.
  EXPECT_EQ(health_endpoint("healthzPort: 10999x\n").port, 10248);
  EXPECT_EQ(health_endpoint("healthzPort: 99999999999999999999\n").port, 10248);
  EXPECT_EQ(health_endpoint("healthzPort: 65536\n").port, 10248);
}

}  // namespace
}  // namespace kcd::daemon
