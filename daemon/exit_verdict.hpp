// The command line's exit codes and the pure verdicts that choose them for a one-shot run from
// the certificates' typed conditions, shared by the supervisor and `renew --once` through a daemon.
#pragma once

#include "daemon/control_protocol.hpp"
#include "rotation/cert_kind.hpp"
#include "rotation/lifecycle.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kcd::daemon {

// Exit codes of the command line (documented in the README).
enum ExitCode : int {
  kExitOk = 0,       // done: valid certificate(s) installed / command succeeded
  kExitError = 1,    // runtime error: API unreachable, file errors, another instance, ...
  kExitConfig = 2,   // invalid configuration or command line; nothing was changed
  kExitPending = 3,  // run --once: a CSR is filed but was not approved/issued before --timeout
  kExitDenied = 4,   // run --once: the CSR was denied or failed, or the issued certificate was rejected
};

// What a verdict needs to know of one certificate.
struct CertificateProgress {
  rotation::CertKind kind = rotation::CertKind::Client;
  rotation::Condition condition = rotation::Condition::Starting;
  // The last error will not go away by retrying (a refused configuration, 403): give up now.
  bool fatal_error = false;
  // A renewal was asked for: a valid certificate counts only once a new one was installed.
  bool renewal_requested = false;
  int installs = 0;                 // certificates installed since the run started (or the request)
  std::string reason;               // what it is doing now (the lifecycle's words)
  std::string last_error;           // the last denial, failure or error
  std::filesystem::path installed;  // the current certificate's file, for the success line
  std::optional<rotation::SysTime> not_after;  // the current certificate's, for the success line
};

struct Verdict {
  ExitCode code = kExitOk;
  std::string message;  // one line: what happened
};

// Is this certificate's part of a one-shot run done?
bool finished(const CertificateProgress& c);

// A one-shot run ends as soon as the certificates decide it (a denial or a fatal error of any,
// or all finished): the verdict then, nullopt while one is still on its way.
std::optional<Verdict> once_verdict(const std::vector<CertificateProgress>& certs);

// At the timeout: 3 (pending) when every unfinished certificate waits for approval or the
// signer, 1 otherwise; the line names what each unfinished certificate was doing.
Verdict timeout_verdict(const std::vector<CertificateProgress>& certs, std::chrono::milliseconds timeout);

// `renew --once` through a running daemon: the progress of the `requested` certificates from
// the daemon's status now and the one it gave with the request (`before`: a certificate counts
// as renewed once its installs grew). The daemon keeps retrying any error, so none is fatal
// here: the client waits until its timeout. A requested certificate the daemon no longer
// reports never finishes.
std::vector<CertificateProgress> renewal_progress(const StatusReply& now, const StatusReply& before,
                                                  const std::vector<rotation::CertKind>& requested);

// A SIGTERM or SIGINT: a daemon stops cleanly (0); a one-shot run was interrupted (1).
Verdict stop_verdict(bool once);

}  // namespace kcd::daemon
