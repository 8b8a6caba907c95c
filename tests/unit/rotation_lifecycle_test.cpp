// The lifecycle state machine, driven step by step without sockets, files or a real clock.
#include "rotation/lifecycle.hpp"

#include <gtest/gtest.h>

namespace kcd::rotation {
namespace {

using namespace std::chrono_literals;
using Kind = Step::Kind;

const SysTime kT0 = std::chrono::sys_days{std::chrono::year{2026} / 11 / 22} + 12h;

CertInfo cert(SysTime not_before, SysTime not_after, std::string fp = "aa") {
  CertInfo info;
  info.common_name = "system:node:n1";
  info.not_before = not_before;
  info.not_after = not_after;
  info.sha256_fingerprint = std::move(fp);
  return info;
}

LifecyclePolicy policy() {
  LifecyclePolicy p;
  p.csr_create_interval = 1h;
  p.backoff.initial = 1s;
  p.backoff.cap = 60s;
  p.backoff.floor = 100ms;
  return p;
}

Lifecycle machine(double u = 0.5) {
  return Lifecycle(CertKind::Client, policy(), [u] { return u; });
}

CsrView view(CsrView::Condition c, std::string rv = "10") {
  CsrView v;
  v.condition = c;
  v.resource_version = std::move(rv);
  return v;
}

Inspection needs(std::string reason) {
  Inspection ins;
  ins.renew_reason = std::move(reason);
  return ins;
}

PendingCsr pending(std::string name, bool filed = false) {
  PendingCsr p;
  p.name = std::move(name);
  p.key_sha256 = "k";
  p.filed = filed;
  return p;
}

TEST(RotationLifecycle, StartsByInspecting) {
  auto m = machine();
  EXPECT_EQ(m.next(kT0).kind, Kind::Inspect);
  EXPECT_EQ(m.condition(), Condition::Starting);
}

TEST(RotationLifecycle, BootstrapHappyPathIsKeySubmitInstall) {
  auto m = machine();
  m.inspected(needs("no certificate"), kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::GenerateKey);
  m.key_ready(pending("node-csr-x"));
  Step s = m.next(kT0);
  EXPECT_EQ(s.kind, Kind::Submit);
  EXPECT_EQ(s.csr, "node-csr-x");
  m.submitted(view(CsrView::Condition::Pending, "252"), kT0);
  s = m.next(kT0);
  EXPECT_EQ(s.kind, Kind::Await);
  EXPECT_EQ(s.resource_version, "252");
  EXPECT_EQ(m.condition(), Condition::AwaitingApproval);
  EXPECT_TRUE(m.persistent().pending->filed);
  EXPECT_EQ(m.persistent().csrs_created, 1);
  m.observed(view(CsrView::Condition::Approved, "253"), kT0);
  EXPECT_EQ(m.condition(), Condition::AwaitingSigner);
  m.observed(view(CsrView::Condition::Issued, "254"), kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::Install);
  m.installed(cert(kT0 - 5min, kT0 + 100h), kT0);
  EXPECT_EQ(m.condition(), Condition::Valid);
  EXPECT_FALSE(m.persistent().pending.has_value());
  s = m.next(kT0);
  EXPECT_EQ(s.kind, Kind::Sleep);
  // u = 0.5: the middle of the 70-90 % window, i.e. 80 % of the lifetime; a certificate just
  // received is measured from its arrival (its notBefore is backdated).
  EXPECT_EQ(s.at, kT0 + 80h);
}

TEST(RotationLifecycle, ValidCertificateMeansNoRequestUntilTheDeadline) {
  auto m = machine(0.0);
  Inspection ins;
  ins.current = cert(kT0 - 10h, kT0 + 90h);
  m.inspected(ins, kT0);
  Step s = m.next(kT0);
  ASSERT_EQ(s.kind, Kind::Sleep);
  EXPECT_EQ(s.at, kT0 - 10h + 70h);  // 70 % of 100 h
  m.woke(kT0 + 1h);
  EXPECT_EQ(m.next(kT0 + 1h).kind, Kind::Sleep);
  m.woke(kT0 + 60h);
  EXPECT_EQ(m.next(kT0 + 60h).kind, Kind::GenerateKey);
  EXPECT_EQ(m.reason(), "rotation deadline reached");
}

TEST(RotationLifecycle, PersistedDeadlineForTheSameCertificateIsNotRedrawn) {
  auto m = machine(0.0);
  Inspection ins;
  ins.current = cert(kT0 - 10h, kT0 + 90h, "fp1");
  ins.persisted.deadline = kT0 + 77h;
  ins.persisted.deadline_cert_sha256 = "fp1";
  m.inspected(ins, kT0);
  EXPECT_EQ(m.next(kT0).at, kT0 + 77h);
}

TEST(RotationLifecycle, DeadlinePersistedForAnotherCertificateIsRedrawn) {
  auto m = machine(0.0);
  Inspection ins;
  ins.current = cert(kT0 - 10h, kT0 + 90h, "fp2");
  ins.persisted.deadline = kT0 + 77h;
  ins.persisted.deadline_cert_sha256 = "fp1";
  m.inspected(ins, kT0);
  EXPECT_EQ(m.next(kT0).at, kT0 + 60h);
  EXPECT_EQ(m.persistent().deadline_cert_sha256, "fp2");
}

TEST(RotationLifecycle, StaleKubeconfigIsRewrittenWithoutAnyRequest) {
  auto m = machine();
  Inspection ins;
  ins.current = cert(kT0 - 1h, kT0 + 99h);
  ins.kubeconfig_stale = true;
  m.inspected(ins, kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::WriteKubeconfig);
  m.kubeconfig_written();
  EXPECT_EQ(m.next(kT0).kind, Kind::Sleep);
}

TEST(RotationLifecycle, RestartWithFiledCsrLooksItUpInsteadOfFilingAgain) {
  auto m = machine();
  Inspection ins;
  ins.renew_reason = "no certificate";
  ins.pending = pending("node-csr-p", true);
  m.inspected(ins, kT0);
  Step s = m.next(kT0);
  EXPECT_EQ(s.kind, Kind::Lookup);
  EXPECT_EQ(s.csr, "node-csr-p");
}

TEST(RotationLifecycle, RestartWithUnfiledPendingKeySubmitsTheSameName) {
  auto m = machine();
  Inspection ins;
  ins.renew_reason = "no certificate";
  ins.pending = pending("node-csr-p", false);
  m.inspected(ins, kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::Submit);
  EXPECT_EQ(m.next(kT0).csr, "node-csr-p");
}

TEST(RotationLifecycle, RotationInFlightResumesEvenWhileTheOldCertificateIsValid) {
  auto m = machine();
  Inspection ins;
  ins.current = cert(kT0 - 80h, kT0 + 20h);
  ins.pending = pending("node-csr-r", true);
  m.inspected(ins, kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::Lookup);
}

TEST(RotationLifecycle, AlreadyExistsLeadsToLookupNotANewCsr) {
  auto m = machine();
  m.inspected(needs("no certificate"), kT0);
  m.key_ready(pending("node-csr-x"));
  m.already_exists();
  EXPECT_EQ(m.next(kT0).kind, Kind::Lookup);
  EXPECT_EQ(m.persistent().csrs_created, 0);
  m.observed(view(CsrView::Condition::Pending, "300"), kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::Await);
  EXPECT_EQ(m.next(kT0).resource_version, "300");
}

TEST(RotationLifecycle, DenialDiscardsTheKeyAndRateLimitsTheNextCsr) {
  auto m = machine();
  m.inspected(needs("no certificate"), kT0);
  m.key_ready(pending("node-csr-x"));
  m.submitted(view(CsrView::Condition::Pending), kT0);
  CsrView denied = view(CsrView::Condition::Denied, "11");
  denied.reason = "KubectlDeny";
  denied.message = "no";
  m.observed(denied, kT0 + 1s);
  EXPECT_TRUE(m.terminal_failure());
  EXPECT_EQ(m.condition(), Condition::Denied);
  EXPECT_NE(m.persistent().last_error.find("node-csr-x was denied: KubectlDeny"), std::string::npos);
  EXPECT_EQ(m.next(kT0).kind, Kind::DiscardPending);
  m.discarded();
  Step s = m.next(kT0 + 2s);
  ASSERT_EQ(s.kind, Kind::Sleep);
  EXPECT_EQ(s.at, kT0 + 1h);  // one hour after the previous CSR was created
  EXPECT_EQ(m.next(kT0 + 1h).kind, Kind::GenerateKey);
}

TEST(RotationLifecycle, FailedCsrIsTreatedLikeADenial) {
  auto m = machine();
  m.inspected(needs("no certificate"), kT0);
  m.key_ready(pending("node-csr-x"));
  m.submitted(view(CsrView::Condition::Pending), kT0);
  CsrView failed = view(CsrView::Condition::Failed);
  failed.reason = "SignerValidationFailure";
  m.observed(failed, kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::DiscardPending);
  EXPECT_NE(m.reason().find("failed: SignerValidationFailure"), std::string::npos);
}

TEST(RotationLifecycle, RejectedCertificateBurnsTheKey) {
  auto m = machine();
  m.inspected(needs("no certificate"), kT0);
  m.key_ready(pending("node-csr-x"));
  m.submitted(view(CsrView::Condition::Issued), kT0);
  m.rejected("public key is not ours", kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::DiscardPending);
  EXPECT_NE(m.persistent().last_error.find("public key is not ours"), std::string::npos);
}

TEST(RotationLifecycle, VanishedCsrIsReplacedWithANewKey) {
  auto m = machine();
  Inspection ins;
  ins.renew_reason = "no certificate";
  ins.pending = pending("node-csr-p", true);
  ins.persisted.last_csr_created = kT0 - 25h;
  m.inspected(ins, kT0);
  m.gone(kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::DiscardPending);
  m.discarded();
  EXPECT_EQ(m.next(kT0).kind, Kind::GenerateKey);  // the last CSR is older than the interval
}

TEST(RotationLifecycle, RetryableFailureBacksOffAndReturnsToThePhase) {
  auto m = machine(1.0);
  m.inspected(needs("no certificate"), kT0);
  m.key_ready(pending("node-csr-x"));
  m.failed(make_error(ErrorKind::Network, "connection refused"), kT0);
  Step s = m.next(kT0);
  ASSERT_EQ(s.kind, Kind::Sleep);
  EXPECT_EQ(s.at, kT0 + 1s);  // u=1: the whole first ceiling
  EXPECT_EQ(m.condition(), Condition::Error);
  m.woke(kT0 + 500ms);
  EXPECT_EQ(m.next(kT0 + 500ms).kind, Kind::Sleep);
  m.woke(kT0 + 1s);
  EXPECT_EQ(m.next(kT0 + 1s).kind, Kind::Submit);
  m.failed(make_error(ErrorKind::Network, "connection refused"), kT0 + 1s);
  EXPECT_EQ(m.next(kT0 + 1s).at, kT0 + 3s);  // ceiling doubled
}

// A rotation held up by an unreachable API server while the certificate has time left is not
// urgent: the retry is drawn over 10 % of the time left (at most an hour), so that a fleet comes
// back spread out after an outage (tests/fleetsim). A first certificate, a requested renewal and
// a failure that is not the server's availability keep the plain backoff.
TEST(RotationLifecycle, RotationHeldUpByAnOutageRetriesSpreadOverTheTimeLeft) {
  const auto held_up = [](SysTime not_after, const Error& e, bool requested) {
    auto m = machine(1.0);
    Inspection ins;
    ins.current = cert(kT0 - 80h, not_after);
    if (!requested) ins.renew_reason = "the SANs are no longer as configured";
    m.inspected(ins, kT0);
    if (requested) m.renew_requested(kT0);
    EXPECT_EQ(m.next(kT0).kind, Kind::GenerateKey);
    m.key_ready(pending("node-csr-r"));
    EXPECT_EQ(m.next(kT0).kind, Kind::Submit);
    m.failed(e, kT0);
    return m.next(kT0).at - kT0;
  };
  const Error refused = make_error(ErrorKind::Network, "connection refused");
  EXPECT_EQ(held_up(kT0 + 5h, refused, false), 30min);  // 10 % of 5 h, u = 1
  EXPECT_EQ(held_up(kT0 + 500h, refused, false), 1h);   // at most an hour
  EXPECT_EQ(held_up(kT0 + 5h, make_error(ErrorKind::ServerError, "500"), false), 30min);
  EXPECT_EQ(held_up(kT0 + 5h, refused, true), 1s) << "a requested renewal is urgent";
  EXPECT_EQ(held_up(kT0 + 5h, make_error(ErrorKind::Conflict, "conflict"), false), 1s);
  auto bootstrap = machine(1.0);
  bootstrap.inspected(needs("no certificate"), kT0);
  bootstrap.key_ready(pending("node-csr-x"));
  bootstrap.failed(refused, kT0);
  EXPECT_EQ(bootstrap.next(kT0).at, kT0 + 1s) << "a first certificate is urgent";
}

TEST(RotationLifecycle, RetryAfterIsHonoured) {
  auto m = machine(0.0);
  m.inspected(needs("no certificate"), kT0);
  m.key_ready(pending("node-csr-x"));
  Error throttled = make_error(ErrorKind::TooManyRequests, "too many requests");
  throttled.retry_after = 7s;
  m.failed(throttled, kT0);
  EXPECT_EQ(m.next(kT0).at, kT0 + 7s);
}

TEST(RotationLifecycle, WatchFailureResumesWithAFreshLookup) {
  auto m = machine(0.0);
  m.inspected(needs("no certificate"), kT0);
  m.key_ready(pending("node-csr-x"));
  m.submitted(view(CsrView::Condition::Pending), kT0);
  m.failed(make_error(ErrorKind::Timeout, "read timeout"), kT0);
  m.woke(kT0 + 1min);
  EXPECT_EQ(m.next(kT0 + 1min).kind, Kind::Lookup);
}

TEST(RotationLifecycle, WatchEndedAfterEventsRelooksAtOnceButEmptyWatchesBackOff) {
  auto m = machine(1.0);
  m.inspected(needs("no certificate"), kT0);
  m.key_ready(pending("node-csr-x"));
  m.submitted(view(CsrView::Condition::Pending), kT0);
  m.watch_ended(true, kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::Lookup);
  m.observed(view(CsrView::Condition::Pending), kT0);
  m.watch_ended(false, kT0);
  Step s = m.next(kT0);
  EXPECT_EQ(s.kind, Kind::Sleep);
  EXPECT_GT(s.at, kT0);
  m.woke(s.at);
  EXPECT_EQ(m.next(s.at).kind, Kind::Lookup);
}

TEST(RotationLifecycle, EarlyWatchEndsBackOffLongerEachTimeUntilAWatchLastsItsTimeout) {
  auto m = machine(1.0);  // the top of each backoff range
  m.inspected(needs("no certificate"), kT0);
  m.key_ready(pending("node-csr-x"));
  m.submitted(view(CsrView::Condition::Pending), kT0);
  SysTime t = kT0;
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 4; ++i) {
    m.watch_ended(false, t, "watch of csr node-csr-x expired (410 Gone)");
    const Step s = m.next(t);
    ASSERT_EQ(s.kind, Kind::Sleep);
    waits.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(s.at - t));
    EXPECT_NE(m.reason().find("watch of csr node-csr-x expired (410 Gone)"), std::string::npos) << m.reason();
    t = s.at;
    m.woke(t);
    ASSERT_EQ(m.next(t).kind, Kind::Lookup);
    m.observed(view(CsrView::Condition::Pending), t);
  }
  EXPECT_EQ(waits, (std::vector<std::chrono::milliseconds>{1s, 2s, 4s, 8s}));
  // A watch that ran its course: looked up at once, and the backoff starts over.
  m.watch_ended(true, t);
  EXPECT_EQ(m.next(t).kind, Kind::Lookup);
  m.observed(view(CsrView::Condition::Pending), t);
  m.watch_ended(false, t);
  EXPECT_EQ(m.next(t).at - t, 1s);
}

TEST(RotationLifecycle, UnauthorizedAsNodeFallsBackToBootstrap) {
  auto m = machine();
  m.inspected(needs("certificate expired"), kT0);
  m.key_ready(pending("node-csr-x"));
  EXPECT_FALSE(m.prefer_bootstrap());
  m.failed(make_error(ErrorKind::Unauthorized, "Unauthorized"), kT0, /*node_credential=*/true);
  EXPECT_TRUE(m.prefer_bootstrap());
  EXPECT_FALSE(m.fatal_error());  // the bootstrap credential is tried next
  m.woke(kT0 + 10min);
  m.submitted(view(CsrView::Condition::Issued), kT0 + 10min);
  m.installed(cert(kT0, kT0 + 10h), kT0 + 10min);
  EXPECT_FALSE(m.prefer_bootstrap());
}

TEST(RotationLifecycle, NonRetryableErrorIsFatalForOneShotRuns) {
  auto m = machine();
  m.inspected(needs("no certificate"), kT0);
  m.key_ready(pending("node-csr-x"));
  m.failed(make_error(ErrorKind::Forbidden, "forbidden"), kT0);
  EXPECT_TRUE(m.fatal_error());
}

TEST(RotationLifecycle, UnauthorizedBootstrapTokenIsFatalAndNotAFallback) {
  auto m = machine();
  m.inspected(needs("no certificate"), kT0);
  m.key_ready(pending("node-csr-x"));
  m.failed(make_error(ErrorKind::Unauthorized, "Unauthorized"), kT0, /*node_credential=*/false);
  EXPECT_TRUE(m.fatal_error());  // only a new token from configuration management helps
  EXPECT_FALSE(m.prefer_bootstrap());
  EXPECT_EQ(m.persistent().last_error, "unauthorized error: Unauthorized");
}

TEST(RotationLifecycle, RenewRequestStartsARotationWhileIdle) {
  auto m = machine();
  Inspection ins;
  ins.current = cert(kT0 - 1h, kT0 + 99h);
  m.inspected(ins, kT0);
  m.renew_requested(kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::GenerateKey);
  EXPECT_EQ(m.reason(), "renewal requested");
}

TEST(RotationLifecycle, ABackdatedShortCertificateIsMeasuredFromItsArrival) {
  auto m = machine(0.0);
  m.inspected(needs("no certificate"), kT0);
  m.key_ready(pending("node-csr-x"));
  m.submitted(view(CsrView::Condition::Issued), kT0);
  // 30 s certificate, notBefore backdated 5 minutes: from notBefore, 70 % would be in the past.
  m.installed(cert(kT0 - 5min, kT0 + 30s), kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::Sleep);
  EXPECT_EQ(m.next(kT0).at, kT0 + 21s);
}

TEST(RotationLifecycle, ExpiredDeadlineAtStartRotatesImmediately) {
  auto m = machine();
  Inspection ins;
  ins.current = cert(kT0 - 95h, kT0 + 5h);
  m.inspected(ins, kT0);
  EXPECT_EQ(m.next(kT0).kind, Kind::GenerateKey);
}

}  // namespace
}  // namespace kcd::rotation
