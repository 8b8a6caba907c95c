// The kubelet restart policy, the one place that decides whether the kubelet is restarted: for
// a config change, a new serving certificate and a rollback, under each kubeletRestart mode,
// with the unit up, down or unknown, and the version asked only where it matters.
#include "daemon/kubelet_restart_policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kcd::daemon {
namespace {

using ::testing::HasSubstr;
using Action = RestartDecision::Action;
using Mode = config::KubeletRestart;
using kubelet::Version;

const KubeletUnitSeen kUp{KubeletUnitSeen::State::Up, "active (running), MainPID 812, NRestarts 0"};
const KubeletUnitSeen kDown{KubeletUnitSeen::State::Down, "inactive (dead), MainPID 0, NRestarts 0"};
const KubeletUnitSeen kUnknown{KubeletUnitSeen::State::Unknown, "cannot connect to the system bus"};

// A version probe that counts how often it was asked.
struct Probe {
  std::optional<Version> version;
  int asked = 0;
  VersionProbe fn() {
    return [this] {
      ++asked;
      return version;
    };
  }
};

TEST(KubeletRestartPolicy, AConfigChangeTriesARestartOfARunningKubelet) {
  for (Mode mode : {Mode::Auto, Mode::Always}) {
    Probe probe{Version{1, 35, 0}};
    const RestartDecision d = decide_kubelet_restart(RestartCause::ConfigChanged, mode, kUp, probe.fn());
    EXPECT_EQ(d.action, Action::TryRestart) << config::to_string(mode);
    EXPECT_EQ(probe.asked, 0) << "the kubelet reads its config file only at start, whatever its version";
  }
}

TEST(KubeletRestartPolicy, AClusterCaChangeTriesARestartOfARunningKubeletOfAnyVersion) {
  for (Mode mode : {Mode::Auto, Mode::Always}) {
    Probe probe{Version{1, 35, 0}};
    const RestartDecision d = decide_kubelet_restart(RestartCause::ClusterCaChanged, mode, kUp, probe.fn());
    EXPECT_EQ(d.action, Action::TryRestart) << config::to_string(mode);
    EXPECT_EQ(d.why, "cluster CA changed");
    EXPECT_EQ(probe.asked, 0) << "kubelet.conf and the client CA file are read only at start";
  }
}

TEST(KubeletRestartPolicy, KubeletRestartNeverRestartsForNoChange) {
  for (RestartCause cause : {RestartCause::ConfigChanged, RestartCause::ServingCertificateChanged,
                             RestartCause::ClusterCaChanged}) {
    Probe probe{Version{1, 24, 0}};
    const RestartDecision d = decide_kubelet_restart(cause, Mode::Never, kUp, probe.fn());
    EXPECT_EQ(d.action, Action::None) << to_string(cause);
    EXPECT_EQ(d.why, "kubeletRestart: never");
    EXPECT_EQ(probe.asked, 0);
  }
}

TEST(KubeletRestartPolicy, AKubeletThatIsNotRunningIsNeverStarted) {
  for (RestartCause cause : {RestartCause::ConfigChanged, RestartCause::ServingCertificateChanged,
                             RestartCause::ClusterCaChanged}) {
    for (Mode mode : {Mode::Auto, Mode::Always}) {
      const RestartDecision d = decide_kubelet_restart(cause, mode, kDown, nullptr);
      EXPECT_EQ(d.action, Action::None) << to_string(cause);
      EXPECT_THAT(d.why, HasSubstr("not started by kubelet-certd"));
      EXPECT_THAT(d.why, HasSubstr("inactive (dead)"));
    }
  }
}

TEST(KubeletRestartPolicy, AnUnknownUnitStateStillTriesTheRestartWhichThenSaysWhyItFailed) {
  const RestartDecision d =
      decide_kubelet_restart(RestartCause::ConfigChanged, Mode::Auto, kUnknown, nullptr);
  EXPECT_EQ(d.action, Action::TryRestart);
}

TEST(KubeletRestartPolicy, UnderAutoAServingCertificateRestartsOnlyKubeletsThatCannotReloadIt) {
  Probe old{Version{1, 30, 9}};
  EXPECT_EQ(decide_kubelet_restart(RestartCause::ServingCertificateChanged, Mode::Auto, kUp, old.fn()).action,
            Action::TryRestart);
  EXPECT_EQ(old.asked, 1);

  Probe recent{Version{1, 31, 0}};
  const RestartDecision d =
      decide_kubelet_restart(RestartCause::ServingCertificateChanged, Mode::Auto, kUp, recent.fn());
  EXPECT_EQ(d.action, Action::None);
  EXPECT_THAT(d.why, HasSubstr("v1.31.0 reloads its serving certificate by itself"));

  Probe unknown{std::nullopt};
  const RestartDecision u =
      decide_kubelet_restart(RestartCause::ServingCertificateChanged, Mode::Auto, kUp, unknown.fn());
  EXPECT_EQ(u.action, Action::TryRestart) << "unknown: a restart beats a stale certificate";
  EXPECT_THAT(u.why, HasSubstr("unknown"));
}

TEST(KubeletRestartPolicy, UnderAlwaysAServingCertificateRestartsWithoutAskingTheVersion) {
  Probe probe{Version{1, 35, 0}};
  EXPECT_EQ(
      decide_kubelet_restart(RestartCause::ServingCertificateChanged, Mode::Always, kUp, probe.fn()).action,
      Action::TryRestart);
  EXPECT_EQ(probe.asked, 0);
}

TEST(KubeletRestartPolicy, ARollbackBringsTheKubeletBackEvenFromFailedAndUnderNever) {
  for (Mode mode : {Mode::Auto, Mode::Always, Mode::Never}) {
    for (const KubeletUnitSeen& unit : {kUp, kDown, kUnknown}) {
      EXPECT_EQ(decide_kubelet_restart(RestartCause::RollBack, mode, unit, nullptr).action, Action::Restart);
    }
  }
}

}  // namespace
}  // namespace kcd::daemon
