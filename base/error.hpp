// The one error type: every expected failure in kubelet-certd is a kcd::Error carried by
// Expected<T>. Exceptions are left for programming errors (only main catches them).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kcd {

enum class ErrorKind {
  // Local: the operator or the node must change something.
  Config,   // a setting, flag or kubeconfig field is wrong
  Io,       // a file or directory operation failed (Error::code holds errno)
  Corrupt,  // data we read (a PEM, a state file, a response body) does not parse
  Crypto,   // an OpenSSL call failed
  Refused,  // a safety rule refuses (unsafe permissions, a foreign key, an untrusted binary)
  // Remote: what an API server (or the path to it) answered.
  Network,
  Timeout,
  Tls,
  Unauthorized,
  Forbidden,
  NotFound,
  AlreadyExists,
  Conflict,
  Gone,
  Invalid,
  BadRequest,
  TooManyRequests,
  ServerError,
  Unexpected,
  Cancelled,
};
std::string_view to_string(ErrorKind k);

// The single retry policy: can the same request succeed later without anyone changing
// anything? No for configuration and safety refusals, 400/403/422 and a refused credential;
// yes for the network, timeouts, throttling, 5xx, conflicts and anything unexpected.
bool retryable_by_default(ErrorKind k);

// Where the problem is: a file position and/or a key. Empty parts are left out of the text.
struct Location {
  std::string file;  // a path, or "command line"
  int line = 0;      // 1-based; 0 = not applicable
  int column = 0;    // 1-based; 0 = not applicable
  std::string key;   // a setting, flag, field or certificate name
  bool empty() const { return file.empty() && key.empty(); }
  bool operator==(const Location&) const = default;
};

struct Error {
  ErrorKind kind = ErrorKind::Unexpected;
  std::string message;  // one line, what is wrong and how to fix it; never a secret
  Location where;
  bool retryable = false;
  std::optional<std::chrono::seconds> retry_after;  // from the server (Retry-After)
  int code = 0;        // the HTTP status of a response, or the errno of an I/O failure
  std::string reason;  // the API's Status.reason, when there was one

  // "file:line:column: key: message" with empty parts left out; for remote errors the
  // status and reason lead: "409 Conflict: message (retry after 5s)".
  std::string format() const;
  bool operator==(const Error&) const = default;
};

// The usual ways to make one; retryable follows retryable_by_default(kind).
Error make_error(ErrorKind kind, std::string message, Location where = {});
Error config_error(Location where, std::string message);
Error io_error(std::string_view operation, std::string_view path, int err);

}  // namespace kcd
