#include "rotation/lifecycle.hpp"

#include <algorithm>

namespace kcd::rotation {

std::string_view to_string(Phase p) {
  switch (p) {
    case Phase::Inspecting:
      return "inspecting";
    case Phase::Idle:
      return "idle";
    case Phase::Generating:
      return "generating";
    case Phase::Submitting:
      return "submitting";
    case Phase::Looking:
      return "looking";
    case Phase::Awaiting:
      return "awaiting";
    case Phase::Installing:
      return "installing";
    case Phase::Discarding:
      return "discarding";
    case Phase::Backoff:
      return "backoff";
  }
  return "?";
}

std::string_view to_string(Step::Kind k) {
  switch (k) {
    case Step::Kind::Inspect:
      return "inspect";
    case Step::Kind::WriteKubeconfig:
      return "write-kubeconfig";
    case Step::Kind::Sleep:
      return "sleep";
    case Step::Kind::GenerateKey:
      return "generate-key";
    case Step::Kind::Submit:
      return "submit";
    case Step::Kind::Lookup:
      return "lookup";
    case Step::Kind::Await:
      return "await";
    case Step::Kind::Install:
      return "install";
    case Step::Kind::DiscardPending:
      return "discard-pending";
  }
  return "?";
}

Lifecycle::Lifecycle(CertKind kind, LifecyclePolicy policy, std::function<double()> uniform01)
    : kind_(kind), policy_(policy), uniform01_(uniform01), backoff_(policy.backoff, std::move(uniform01)) {}

Step Lifecycle::next(SysTime now) const {
  Step step;
  step.reason = reason_;
  const std::string csr = state_.pending ? state_.pending->name : std::string();
  switch (phase_) {
    case Phase::Inspecting:
      step.kind = Step::Kind::Inspect;
      break;
    case Phase::Idle:
      if (kubeconfig_stale_) {
        step.kind = Step::Kind::WriteKubeconfig;
      } else {
        step.kind = Step::Kind::Sleep;
        step.at = state_.deadline.value_or(now);
      }
      break;
    case Phase::Generating:
      if (state_.next_csr_not_before && now < *state_.next_csr_not_before) {
        step.kind = Step::Kind::Sleep;
        step.at = *state_.next_csr_not_before;
      } else {
        step.kind = Step::Kind::GenerateKey;
      }
      break;
    case Phase::Submitting:
      step.kind = Step::Kind::Submit;
      step.csr = csr;
      break;
    case Phase::Looking:
      step.kind = Step::Kind::Lookup;
      step.csr = csr;
      break;
    case Phase::Awaiting:
      step.kind = Step::Kind::Await;
      step.csr = csr;
      step.resource_version = resource_version_;
      break;
    case Phase::Installing:
      step.kind = Step::Kind::Install;
      step.csr = csr;
      break;
    case Phase::Discarding:
      step.kind = Step::Kind::DiscardPending;
      step.csr = csr;
      break;
    case Phase::Backoff:
      step.kind = Step::Kind::Sleep;
      step.at = retry_at_;
      break;
  }
  return step;
}

void Lifecycle::inspected(const Inspection& ins, SysTime now) {
  state_ = ins.persisted;
  state_.pending = ins.pending;
  kubeconfig_stale_ = ins.kubeconfig_stale;
  current_ = ins.current;
  current_must_go_ = !ins.renew_reason.empty();
  if (current_ && !current_must_go_) {
    // A deadline is drawn once per certificate and kept across restarts.
    if (!state_.deadline || state_.deadline_cert_sha256 != current_->sha256_fingerprint) {
      state_.deadline =
          draw_rotation_deadline(current_->not_before, current_->not_after, policy_.window, uniform01_);
      state_.deadline_cert_sha256 = current_->sha256_fingerprint;
    }
  }
  if (state_.pending) {
    // A CSR was in flight when we stopped (or crashed): resume it with the same key.
    reason_ = current_must_go_ ? ins.renew_reason : "resuming the CSR in flight";
    phase_ = state_.pending->filed ? Phase::Looking : Phase::Submitting;
    return;
  }
  if (current_ && !current_must_go_) {
    reason_ = "certificate valid";
    phase_ = Phase::Idle;
    if (now >= *state_.deadline) enter_generating("rotation deadline reached");
    return;
  }
  enter_generating(ins.renew_reason.empty() ? "no certificate" : ins.renew_reason);
}

void Lifecycle::kubeconfig_written() {
  kubeconfig_stale_ = false;
}

void Lifecycle::enter_generating(std::string reason) {
  reason_ = std::move(reason);
  phase_ = Phase::Generating;
}

void Lifecycle::woke(SysTime now) {
  switch (phase_) {
    case Phase::Idle:
      if (force_renew_) {
        force_renew_ = false;
        enter_generating("renewal requested");
      } else if (state_.deadline && now >= *state_.deadline) {
        enter_generating("rotation deadline reached");
      } else if (current_ && now >= current_->not_after) {
        enter_generating("certificate expired");
      }
      break;
    case Phase::Backoff:
      if (now >= retry_at_) phase_ = resume_phase_;
      break;
    default:
      break;
  }
}

void Lifecycle::renew_requested(SysTime now) {
  renewal_requested_ = true;
  if (phase_ == Phase::Idle) {
    force_renew_ = true;
    woke(now);
  } else if (phase_ == Phase::Generating) {
    // An operator asking explicitly overrides the rate limit after a denial.
    state_.next_csr_not_before.reset();
  }
}

void Lifecycle::key_ready(const PendingCsr& pending) {
  state_.pending = pending;
  state_.pending->filed = false;
  terminal_failure_ = false;
  fatal_error_ = false;
  approved_ = false;
  phase_ = Phase::Submitting;
}

void Lifecycle::submitted(const CsrView& view, SysTime now) {
  if (state_.pending) {
    state_.pending->filed = true;
    state_.pending->filed_at = now;
  }
  state_.last_csr_created = now;
  ++state_.csrs_created;
  backoff_.reset();
  observed(view, now);
}

void Lifecycle::already_exists() {
  // Our name is derived from our key: a 409 means our own earlier POST landed. Look it up
  // (the driver verifies it is really ours) and keep waiting on it.
  if (state_.pending) state_.pending->filed = true;
  phase_ = Phase::Looking;
}

void Lifecycle::observed(const CsrView& view, SysTime now) {
  if (state_.pending && !state_.pending->filed) {
    state_.pending->filed = true;
    state_.pending->filed_at = now;
  }
  if (!view.resource_version.empty()) resource_version_ = view.resource_version;
  const std::string csr = state_.pending ? state_.pending->name : std::string();
  switch (view.condition) {
    case CsrView::Condition::Pending:
      approved_ = false;
      reason_ = "waiting for approval of csr " + csr;
      phase_ = Phase::Awaiting;
      break;
    case CsrView::Condition::Approved:
      approved_ = true;
      reason_ = "csr " + csr + " approved, waiting for the signer";
      phase_ = Phase::Awaiting;
      break;
    case CsrView::Condition::Issued:
      approved_ = true;
      reason_ = "csr " + csr + " issued";
      phase_ = Phase::Installing;
      break;
    case CsrView::Condition::Denied:
    case CsrView::Condition::Failed: {
      const bool denied = view.condition == CsrView::Condition::Denied;
      std::string msg = "csr " + csr + (denied ? " was denied" : " failed");
      if (!view.reason.empty()) msg += ": " + view.reason;
      if (!view.message.empty()) msg += ": " + view.message;
      set_error(msg, now);
      ++outcomes_[denied ? "denied" : "failed"];
      terminal_failure_ = true;
      start_discarding(now);
      break;
    }
  }
}

void Lifecycle::gone(SysTime now) {
  const std::string csr = state_.pending ? state_.pending->name : std::string();
  set_error("csr " + csr + " no longer exists on the API server (deleted or garbage-collected)", now);
  ++outcomes_["gone"];
  start_discarding(now);
}

void Lifecycle::watch_ended(bool progressed, SysTime now, const std::string& why) {
  if (progressed) {
    backoff_.reset();
    phase_ = Phase::Looking;
    return;
  }
  // A watch that ends early, again and again, is backed off like any other failure.
  const std::string csr = state_.pending ? state_.pending->name : std::string();
  failed(make_error(ErrorKind::Network, why.empty() ? "watch of csr " + csr + " ended early" : why), now);
}

void Lifecycle::installed(const CertInfo& info, SysTime now) {
  current_ = info;
  current_must_go_ = false;
  ++installs_;
  renewal_requested_ = false;
  ++outcomes_["success"];
  state_.pending.reset();
  // Signers backdate notBefore (Kubernetes: 5 minutes). For a short-lived certificate that
  // would put the whole window in the past and rotate again at once, forever; a certificate we
  // just received is measured from now instead.
  state_.deadline =
      draw_rotation_deadline(std::max(info.not_before, now), info.not_after, policy_.window, uniform01_);
  state_.deadline_cert_sha256 = info.sha256_fingerprint;
  state_.last_success = now;
  state_.last_error.clear();
  state_.last_error_at.reset();
  state_.next_csr_not_before.reset();
  kubeconfig_stale_ = false;
  prefer_bootstrap_ = false;
  terminal_failure_ = false;
  fatal_error_ = false;
  backoff_.reset();
  reason_ = "certificate valid";
  phase_ = Phase::Idle;
}

void Lifecycle::rejected(const std::string& why, SysTime now) {
  const std::string csr = state_.pending ? state_.pending->name : std::string();
  set_error("certificate issued for csr " + csr + " rejected: " + why, now);
  ++outcomes_["rejected"];
  terminal_failure_ = true;
  start_discarding(now);
}

void Lifecycle::start_discarding(SysTime now) {
  // The key is burnt: its CSR is final. The next CSR needs a new key, and waits out
  // csrCreateInterval since the last one so a persistent denial never floods the API server.
  const SysTime base = state_.last_csr_created.value_or(now);
  state_.next_csr_not_before = base + policy_.csr_create_interval;
  approved_ = false;
  phase_ = Phase::Discarding;
}

void Lifecycle::discarded() {
  state_.pending.reset();
  resource_version_.clear();
  // A still-valid old certificate stays current meanwhile; the next CSR waits in Generating.
  phase_ = Phase::Generating;
}

void Lifecycle::set_error(const std::string& message, SysTime now) {
  state_.last_error = message;
  state_.last_error_at = now;
  reason_ = message;
}

void Lifecycle::failed(const Error& error, SysTime now, bool node_credential) {
  set_error(error.format(), now);
  ++outcomes_["error"];
  const bool node_refused = node_credential && error.kind == ErrorKind::Unauthorized;
  if (node_refused) prefer_bootstrap_ = true;
  fatal_error_ = !(error.retryable || node_refused);
  if (phase_ != Phase::Backoff) resume_phase_ = phase_ == Phase::Awaiting ? Phase::Looking : phase_;
  // Not urgent while the current certificate has time left: a rotation held up because the API
  // server is unreachable or overloaded retries spread over a share of that time (the fleet's
  // backlog after an outage then drains slowly). Other failures keep the plain backoff.
  const bool unavailable = error.kind == ErrorKind::Network || error.kind == ErrorKind::Timeout ||
                           error.kind == ErrorKind::ServerError || error.kind == ErrorKind::TooManyRequests;
  std::chrono::milliseconds spread{0};
  if (unavailable && current_ && !renewal_requested_ && now < current_->not_after) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(current_->not_after - now);
    spread = std::min(policy_.backoff.max_spread,
                      std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(
                          static_cast<double>(left.count()) * policy_.backoff.spread_fraction)));
  }
  retry_at_ = now + backoff_.next(error.retry_after, spread);
  phase_ = Phase::Backoff;
}

bool Lifecycle::retry_now() {
  if (phase_ != Phase::Backoff) return false;
  retry_at_ = SysTime{};
  return true;
}

Condition Lifecycle::condition() const {
  switch (phase_) {
    case Phase::Inspecting:
      return Condition::Starting;
    case Phase::Idle:
      return kubeconfig_stale_ ? Condition::Starting : Condition::Valid;
    case Phase::Awaiting:
      return approved_ ? Condition::AwaitingSigner : Condition::AwaitingApproval;
    case Phase::Looking:
    case Phase::Submitting:
    case Phase::Generating:
    case Phase::Installing:
    case Phase::Discarding:
      if (terminal_failure_) return Condition::Denied;
      return state_.last_error.empty() ? Condition::Starting : Condition::Error;
    case Phase::Backoff:
      return terminal_failure_ ? Condition::Denied : Condition::Error;
  }
  return Condition::Error;
}

}  // namespace kcd::rotation
