// The control socket's typed protocol: the requests `renew` and `status` send to a running
// daemon and its replies, with their JSON lines written and strictly parsed here only.
#pragma once

#include "base/expected.hpp"
#include "rotation/cert_kind.hpp"
#include "rotation/lifecycle.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kcd::daemon {

// One JSON object per line each way:
//   {"command":"status"}                    -> StatusReply
//   {"command":"renew","certs":["client"]}  -> RenewReply {"ok":true,"before":<StatusReply>}
//   anything the daemon refuses             -> {"error":"what is wrong"}
// A malformed or unexpected message is an error naming the field, never a crash or a silently
// defaulted value. Unknown extra fields are ignored, so fields can be added without breaking an
// older client; the wire format is that of the untyped protocol before it.
enum class ControlCommand { Status, Renew };
std::string_view to_string(ControlCommand c);

struct ControlRequest {
  ControlCommand command = ControlCommand::Status;
  std::vector<rotation::CertKind> certs;  // Renew: the certificates to rotate now
  bool operator==(const ControlRequest&) const = default;
};

// One certificate as the running daemon sees it.
struct CertificateReport {
  rotation::CertKind kind = rotation::CertKind::Client;           // "name"
  rotation::Phase phase = rotation::Phase::Inspecting;            // "phase"
  rotation::Condition condition = rotation::Condition::Starting;  // "condition": clients decide on it
  std::string reason;                 // "reason": what it is doing, in words; for people, never decided on
  int installs = 0;                   // "installs": certificates installed since the daemon started
  std::string last_error;             // "lastError" ("" when none)
  std::optional<std::string> sha256;  // "sha256" of the current certificate
  std::optional<std::string> pending_csr;              // "pendingCSR"
  std::optional<rotation::SysTime> rotation_deadline;  // "rotationDeadline" (RFC 3339)
  bool operator==(const CertificateReport&) const = default;
};

// A key the kubelet config patch does not write, and why.
struct HeldBackReport {
  std::string key;     // "key"
  std::string cis;     // "cis": the CIS check it concerns ("" when none)
  std::string reason;  // "reason"
  bool operator==(const HeldBackReport&) const = default;
};

// What the daemon did to the kubelet's config file.
struct KubeletReport {
  std::string kubelet;                    // "kubelet": the kubelet the file is written for
  long rollbacks = 0;                     // "rollbacks"
  std::vector<HeldBackReport> held_back;  // "heldBack"
  std::vector<std::string> refused_keys;  // "refusedKeys"
  bool operator==(const KubeletReport&) const = default;
};

struct StatusReply {
  std::vector<CertificateReport> certs;  // "certs": the certificates the daemon manages
  long pid = 0;                          // "pid"
  KubeletReport kubelet;                 // "kubelet"
  bool operator==(const StatusReply&) const = default;
};

// The renewal was handed to the agent; `before` is the status just before, so a client that
// waits can tell a new certificate (installs grew) from the old one.
struct RenewReply {
  StatusReply before;  // "before"; the wire also says "ok": true
  bool operator==(const RenewReply&) const = default;
};

// The daemon refused the request (unknown command or certificate, serving turned off).
struct ErrorReply {
  std::string message;  // "error"
  bool operator==(const ErrorReply&) const = default;
};

using ControlReply = std::variant<StatusReply, RenewReply, ErrorReply>;

// A certificate's condition in the protocol ("awaiting approval", ...), also the STATUS word
// of `kubelet-certd status`. These words are the wire format: older clients compare them.
std::string_view to_string(rotation::Condition c);
std::optional<rotation::Condition> parse_condition(std::string_view word);
std::optional<rotation::Phase> parse_phase(std::string_view word);
std::optional<rotation::CertKind> parse_cert_kind(std::string_view word);

// One certificate's report from its lifecycle.
CertificateReport report_of(const rotation::Lifecycle& machine);

nlohmann::json to_json(const ControlRequest& r);
nlohmann::json to_json(const CertificateReport& r);
nlohmann::json to_json(const StatusReply& r);
nlohmann::json to_json(const ControlReply& r);
// The line as sent (compact JSON, no newline).
std::string to_line(const ControlRequest& r);
std::string to_line(const ControlReply& r);

// The daemon's side: a request line. The error's message is what the daemon replies.
Expected<ControlRequest> parse_request(std::string_view line);

// The client's side: the reply line to a request of that command. An {"error": ...} reply is an
// error carrying the daemon's message (ErrorKind::Refused); anything malformed is an error of
// ErrorKind::Corrupt naming `source` (the socket) and the field.
Expected<StatusReply> parse_status_reply(std::string_view line, std::string_view source);
Expected<RenewReply> parse_renew_reply(std::string_view line, std::string_view source);

}  // namespace kcd::daemon
