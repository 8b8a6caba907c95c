// The exit verdicts of one-shot runs: from the certificates' typed conditions to an exit code
// and one line, while the run goes on, at its timeout, and for renew --once through a daemon.
#include "daemon/exit_verdict.hpp"

#include "base/rfc3339.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kcd::daemon {
namespace {

using rotation::CertKind;
using rotation::Condition;
using ::testing::HasSubstr;

CertificateProgress cert(CertKind kind, Condition condition, std::string reason = "",
                         std::string last_error = "") {
  CertificateProgress p;
  p.kind = kind;
  p.condition = condition;
  p.reason = std::move(reason);
  p.last_error = std::move(last_error);
  return p;
}

TEST(OnceVerdict, AllValidIsDoneAndNamesEachCertificate) {
  auto client = cert(CertKind::Client, Condition::Valid);
  client.installed = "/var/lib/kubelet/pki/kubelet-client-current.pem";
  client.not_after = *parse_rfc3339("2027-11-22T14:08:16Z");
  const auto serving = cert(CertKind::Serving, Condition::Valid);
  const auto v = once_verdict({client, serving});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->code, kExitOk);
  EXPECT_EQ(v->message,
            "client certificate valid: /var/lib/kubelet/pki/kubelet-client-current.pem (not after "
            "2027-11-22T14:08:16Z); serving certificate valid");
}

TEST(OnceVerdict, NothingIsDecidedWhileACertificateIsOnItsWay) {
  for (Condition c : {Condition::Starting, Condition::AwaitingApproval, Condition::AwaitingSigner}) {
    EXPECT_FALSE(once_verdict({cert(CertKind::Client, Condition::Valid), cert(CertKind::Serving, c)}))
        << to_string(c);
  }
  EXPECT_FALSE(once_verdict({cert(CertKind::Client, Condition::Error, "backing off", "503")}))
      << "a retryable error is retried until the timeout";
}

TEST(OnceVerdict, ADenialEndsTheRunWithFourWhateverTheOthersDo) {
  const auto v =
      once_verdict({cert(CertKind::Client, Condition::AwaitingApproval),
                    cert(CertKind::Serving, Condition::Denied, "", "csr node-csr-x denied: KubectlDeny")});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->code, kExitDenied);
  EXPECT_EQ(v->message, "serving: csr node-csr-x denied: KubectlDeny");
}

TEST(OnceVerdict, AFatalErrorEndsTheRunWithOne) {
  auto client = cert(CertKind::Client, Condition::Error, "", "403 Forbidden: not allowed");
  client.fatal_error = true;
  const auto v = once_verdict({client});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->code, kExitError);
  EXPECT_EQ(v->message, "client: 403 Forbidden: not allowed");
}

TEST(OnceVerdict, ARequestedRenewalIsDoneOnlyOnceANewCertificateIsInstalled) {
  auto client = cert(CertKind::Client, Condition::Valid);
  client.renewal_requested = true;
  EXPECT_FALSE(once_verdict({client})) << "the old certificate is still valid, but not renewed";
  client.installs = 1;
  ASSERT_TRUE(once_verdict({client}));
  EXPECT_EQ(once_verdict({client})->code, kExitOk);
}

TEST(TimeoutVerdict, OnlyCertificatesAwaitingApprovalOrTheSignerMeanPending) {
  const auto v =
      timeout_verdict({cert(CertKind::Client, Condition::Valid),
                       cert(CertKind::Serving, Condition::AwaitingApproval, "waiting for approval")},
                      std::chrono::seconds(300));
  EXPECT_EQ(v.code, kExitPending);
  EXPECT_EQ(v.message, "timed out after 300s: serving: waiting for approval");
  EXPECT_EQ(timeout_verdict({cert(CertKind::Serving, Condition::AwaitingSigner, "approved")},
                            std::chrono::seconds(5))
                .code,
            kExitPending);
}

TEST(TimeoutVerdict, AnErrorAnywhereMeansOneAndShowsTheErrorRatherThanTheReason) {
  for (bool error_first : {true, false}) {
    std::vector<CertificateProgress> certs = {
        cert(CertKind::Client, Condition::Error, "backing off", "connection refused"),
        cert(CertKind::Serving, Condition::AwaitingApproval, "waiting for approval")};
    if (!error_first) std::swap(certs[0], certs[1]);
    const auto v = timeout_verdict(certs, std::chrono::seconds(10));
    EXPECT_EQ(v.code, kExitError) << error_first;
    EXPECT_THAT(v.message, HasSubstr("client: connection refused"));
    EXPECT_THAT(v.message, HasSubstr("serving: waiting for approval"));
  }
  EXPECT_THAT(
      timeout_verdict({cert(CertKind::Client, Condition::Starting, "inspecting")}, std::chrono::seconds(1))
          .message,
      HasSubstr("client: inspecting"))
      << "without an error, the reason";
}

TEST(StopVerdict, ADaemonStopsCleanlyAndAOneShotRunWasInterrupted) {
  EXPECT_EQ(stop_verdict(false).code, kExitOk);
  EXPECT_EQ(stop_verdict(true).code, kExitError);
  EXPECT_EQ(stop_verdict(true).message, "interrupted");
}

CertificateReport report(CertKind kind, Condition condition, int installs) {
  CertificateReport r;
  r.kind = kind;
  r.condition = condition;
  r.installs = installs;
  r.reason = "reason of " + std::string(rotation::to_string(kind));
  return r;
}

TEST(RenewalProgress, ACertificateIsRenewedWhenTheDaemonInstalledOneSinceTheRequest) {
  StatusReply before, now;
  before.certs = {report(CertKind::Client, Condition::Valid, 2),
                  report(CertKind::Serving, Condition::Valid, 1)};
  now.certs = {report(CertKind::Client, Condition::Valid, 2), report(CertKind::Serving, Condition::Valid, 1)};
  const std::vector<CertKind> client_only = {CertKind::Client};
  EXPECT_FALSE(once_verdict(renewal_progress(now, before, client_only)))
      << "still the certificate from before";
  now.certs[0].installs = 3;
  const auto v = once_verdict(renewal_progress(now, before, client_only));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->code, kExitOk);
  EXPECT_EQ(renewal_progress(now, before, client_only).size(), 1u) << "only what was requested counts";
}

TEST(RenewalProgress, TheExitCodeComesFromTheTypedConditionNotTheReasonText) {
  StatusReply before, now;
  before.certs = {report(CertKind::Serving, Condition::Valid, 0)};
  now.certs = {report(CertKind::Serving, Condition::AwaitingApproval, 0)};
  now.certs[0].reason = "an error? no: just waiting";  // prose never decides
  const auto progress = renewal_progress(now, before, {CertKind::Serving});
  EXPECT_FALSE(once_verdict(progress));
  EXPECT_EQ(timeout_verdict(progress, std::chrono::seconds(2)).code, kExitPending);
  now.certs[0].condition = Condition::Denied;
  now.certs[0].last_error = "denied by KubectlDeny";
  const auto denied = once_verdict(renewal_progress(now, before, {CertKind::Serving}));
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->code, kExitDenied);
}

TEST(RenewalProgress, ARequestedCertificateTheDaemonNoLongerReportsNeverFinishes) {
  StatusReply before, now;
  before.certs = {report(CertKind::Serving, Condition::Valid, 0)};
  const auto progress = renewal_progress(now, before, {CertKind::Serving});
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_FALSE(once_verdict(progress));
  const auto v = timeout_verdict(progress, std::chrono::seconds(2));
  EXPECT_EQ(v.code, kExitError);
  EXPECT_THAT(v.message, HasSubstr("not reported by the daemon"));
}

}  // namespace
}  // namespace kcd::daemon
