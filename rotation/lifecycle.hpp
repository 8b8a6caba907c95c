// The certificate lifecycle as a state machine: pure decisions, no I/O, no clock of its own.
// The driver (daemon/) performs each Step, then reports the outcome back; every transition is
// a plain function of the machine's state, the outcome and the time it is given.
//
//   Inspecting -> Idle (valid certificate; sleep until the rotation deadline)
//              -> Generating -> Submitting -> Awaiting -> Installing -> Idle
//   Submitting -409-> Looking (GET) -> Awaiting; a watch that ends -> Looking -> Awaiting
//   Denied / Failed / rejected certificate / CSR gone -> Discarding -> Generating (rate-limited)
//   any retryable error -> Backoff -> the phase that failed
//
// Words, each for one thing:
//   Phase      where the machine is, i.e. what it does next (Inspecting ... Backoff). Internal:
//              logged and reported, never decided on outside this file.
//   Condition  the outcome so far as others act on it (Starting, Valid, AwaitingApproval,
//              AwaitingSigner, Denied, Error), derived from the phase and the last outcome. The
//              control protocol, `kubelet-certd status` and the one-shot exit codes decide on it.
//   State      what survives a restart: CertState (rotation/state.hpp), in the state file;
//              persistent() here.
//   Status     words for people: reason() here, systemd's STATUS= line, the `status` command.
//   CsrView::Condition  the CSR's own condition as the API server (and kubectl get csr's
//              CONDITION column) shows it: Pending, Approved, Issued, Denied, Failed.
#pragma once

#include "base/error.hpp"
#include "rotation/backoff.hpp"
#include "rotation/cert_kind.hpp"
#include "rotation/certificate.hpp"
#include "rotation/deadline.hpp"
#include "rotation/state.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace kcd::rotation {

struct LifecyclePolicy {
  RotationWindow window;
  // After a denial, a failure, a rejected certificate or a vanished CSR, the next CSR is filed
  // no sooner than this after the previous one (never a flood of CSRs).
  std::chrono::seconds csr_create_interval{std::chrono::hours(1)};
  BackoffPolicy backoff;
};

// What the driver found on disk when asked to Inspect.
struct Inspection {
  // A current certificate whose key matches and that has not expired.
  std::optional<CertInfo> current;
  // Non-empty when the current certificate must be replaced now (missing, expired, subject or
  // key algorithm or SANs no longer as configured, not issued by the cluster CA, unreadable).
  std::string renew_reason;
  // Client only: kubelet.conf is missing or does not point at the current certificate.
  bool kubeconfig_stale = false;
  // The pending key (if one is on disk) and the CSR it belongs to (name always set: it is
  // derived from the key; filed/filed_at from the persisted state when it matches the key).
  std::optional<PendingCsr> pending;
  CertState persisted;  // everything else from the state file
};

// How a CSR looks right now (from POST, GET or a watch event).
struct CsrView {
  enum class Condition { Pending, Approved, Issued, Denied, Failed } condition = Condition::Pending;
  std::string resource_version;
  std::string reason;   // condition reason (KubectlDeny, SignerValidationFailure, ...)
  std::string message;  // condition message
};

enum class Phase {
  Inspecting,
  Idle,
  Generating,
  Submitting,
  Looking,
  Awaiting,
  Installing,
  Discarding,
  Backoff
};
std::string_view to_string(Phase p);

struct Step {
  enum class Kind {
    Inspect,          // load store + state; then inspected()
    WriteKubeconfig,  // (client) write kubelet.conf for the current certificate; then kubeconfig_written()
    Sleep,            // wait until `at` (a signal or renew request may end it early); then woke()
    GenerateKey,      // generate + save the pending key, derive its CSR name; then key_ready()
    Submit,           // POST the CSR `csr`; then submitted() / already_exists() / failed()
    Lookup,           // GET `csr`; then observed() / gone() / failed()
    Await,    // watch `csr` from `resource_version`; then observed() / gone() / watch_ended() / failed()
    Install,  // validate the issued certificate, install it; then installed() / rejected() / failed()
    DiscardPending,  // remove the pending key; then discarded()
  };
  Kind kind = Kind::Inspect;
  SysTime at{};
  std::string csr;
  std::string resource_version;
  std::string reason;
};
std::string_view to_string(Step::Kind k);

// The certificate's outcome so far (see the glossary above). Denied covers every verdict that
// needs a new CSR: denied, failed, or an issued certificate that was rejected.
enum class Condition { Starting, Valid, AwaitingApproval, AwaitingSigner, Denied, Error };

class Lifecycle {
 public:
  Lifecycle(CertKind kind, LifecyclePolicy policy, std::function<double()> uniform01);

  Step next(SysTime now) const;

  void inspected(const Inspection& inspection, SysTime now);
  void kubeconfig_written();
  void woke(SysTime now);
  void renew_requested(SysTime now);
  void key_ready(const PendingCsr& pending);
  void submitted(const CsrView& view, SysTime now);
  void already_exists();
  void observed(const CsrView& view, SysTime now);
  void gone(SysTime now);
  // A watch ended without a verdict. `progressed`: it lasted as long as asked (its server
  // timeout), so the CSR is looked up again at once and the backoff starts over. Any other end
  // (410 Gone / an ERROR event, a close or silence soon after the start) is backed off like an
  // error, described by `why`: a server that ends every watch at once sees the backoff policy's
  // rate, never a tight loop.
  void watch_ended(bool progressed, SysTime now, const std::string& why = {});
  void installed(const CertInfo& info, SysTime now);
  void rejected(const std::string& why, SysTime now);
  void discarded();
  // A step failed. Backs off (honouring error.retry_after) and resumes the phase. Whether the
  // failure is fatal follows error.retryable (base/error's one policy), with one exception
  // decided here: a 401 to the node's own certificate (`node_credential`) is not fatal, the
  // next attempt falls back to the bootstrap credential.
  void failed(const Error& error, SysTime now, bool node_credential = false);
  // Ends a backoff early because what it waited for changed (returns whether it was backing off).
  bool retry_now();

  CertKind kind() const { return kind_; }
  Phase phase() const { return phase_; }
  Condition condition() const;
  const CertState& persistent() const { return state_; }
  const std::optional<CertInfo>& current() const { return current_; }
  // True once a 401 was returned while authenticating with the node's own certificate:
  // the driver falls back to the bootstrap kubeconfig until the next success.
  bool prefer_bootstrap() const { return prefer_bootstrap_; }
  // The last outcome was a denial / failure / rejection (Condition::Denied).
  bool terminal_failure() const { return terminal_failure_; }
  // The last error will not go away by retrying (a one-shot run gives up on it).
  bool fatal_error() const { return fatal_error_; }
  const std::string& reason() const { return reason_; }
  // Certificates installed by this machine (a forced renewal is done once this grows).
  int installs() const { return installs_; }
  // How attempts ended since start, by result: success, denied, failed, rejected, gone, error.
  const std::map<std::string, long>& outcomes() const { return outcomes_; }

 private:
  void enter_generating(std::string reason);
  void set_error(const std::string& message, SysTime now);
  void start_discarding(SysTime now);

  CertKind kind_;
  LifecyclePolicy policy_;
  std::function<double()> uniform01_;
  Backoff backoff_;

  Phase phase_ = Phase::Inspecting;
  Phase resume_phase_ = Phase::Inspecting;  // where Backoff returns to
  CertState state_;
  std::optional<CertInfo> current_;
  bool kubeconfig_stale_ = false;
  bool current_must_go_ = false;
  std::string resource_version_;
  bool approved_ = false;
  SysTime retry_at_{};
  std::string reason_;
  bool prefer_bootstrap_ = false;
  bool terminal_failure_ = false;
  bool fatal_error_ = false;
  bool force_renew_ = false;
  bool renewal_requested_ = false;  // an operator asked: urgent until a certificate is installed
  int installs_ = 0;
  std::map<std::string, long> outcomes_;
};

}  // namespace kcd::rotation
