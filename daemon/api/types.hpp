// The Kubernetes API as kubelet-certd sees it: CSR objects, typed errors from `Status`
// bodies, and the newline-delimited watch event stream. Pure data and parsing, no I/O.
#pragma once

#include "config/kubeconfig.hpp"

#include "base/expected.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::api {

struct Endpoint {
  config::ServerUrl server;                    // parsed once, when the kubeconfig was loaded
  std::string ca_pem;                          // cluster CA bundle
  std::optional<std::string> tls_server_name;  // overrides the name verified and sent as SNI
};

// Exactly one of a bearer token or a client certificate.
struct Credentials {
  std::optional<std::string> bearer_token;  // a secret: never logged, never in error texts
  std::optional<std::filesystem::path> client_cert_file, client_key_file;  // re-read per connection
  std::optional<std::string> client_cert_pem, client_key_pem;
};

// Every failure of a request is a kcd::Error: kind from the HTTP status and Status.reason,
// code = the HTTP status (0 without a response), reason = Status.reason, retry_after from
// Retry-After or details.retryAfterSeconds, retryable by the one policy in base/error.
template <class T>
using Result = Expected<T>;

// The largest response body the client reads (api::Options::body_limit's default).
inline constexpr std::size_t kResponseBodyLimit = 4u << 20;

struct CsrCondition {
  std::string type, status, reason, message, last_update_time;
};

struct Csr {
  std::string name, uid, resource_version, creation_timestamp;
  std::string request_pem;
  std::string signer_name;
  std::vector<std::string> usages;
  std::optional<std::int64_t> expiration_seconds;
  std::string username;
  std::vector<std::string> groups;
  std::vector<CsrCondition> conditions;
  std::string certificate_pem;  // empty until issued

  bool approved() const;
  bool denied() const;
  bool failed() const;
  bool issued() const { return !certificate_pem.empty(); }
  const CsrCondition* terminal_condition() const;  // Denied or Failed (status True)
};

struct CsrCreate {
  std::string name;
  std::string request_pem;
  std::string signer_name;
  std::vector<std::string> usages;
  std::optional<std::int64_t> expiration_seconds;
};

// The string at `key` of a JSON object, "" when it is absent or not a string.
std::string string_field(const nlohmann::json& j, const char* key);

// The POST body, in the shape client-go sends.
std::string csr_create_body(const CsrCreate& request);
Expected<Csr> parse_csr(const nlohmann::json& object);

// The PUT body of .../approval: the CSR as read (its resourceVersion makes a stale decision a
// 409 Conflict) with `added` appended to its conditions, in the recorded shape. `added.type`
// is Approved or Denied; its status is "True".
std::string csr_approval_body(const Csr& csr, const CsrCondition& added);

// An error from an HTTP status, its body (a Status when JSON) and its Retry-After header.
Error error_from_response(int http_status, std::string_view body, std::string_view retry_after_header);
Error error_from_status_object(const nlohmann::json& status, int fallback_code);
// What a create or get response means: its CSR when the status is `expected_status` (a create's
// 201 also accepts 200), else the error its status, body and Retry-After header say.
Result<Csr> csr_from_response(int http_status, std::string_view body, std::string_view retry_after_header,
                              int expected_status);

// A list of CSRs (GET .../certificatesigningrequests): the items and the list's
// resourceVersion, from which a watch sees every later change.
struct CsrList {
  std::vector<Csr> items;
  std::string resource_version;
  std::string continue_token;  // metadata.continue: more pages follow (a list with limit=)
};
// One list page asks for this many items (client-go's pager asks for 500).
inline constexpr int kListPageSize = 500;
// A list longer than this is refused (memory stays bounded; a cluster's kubelet-serving CSRs
// are removed an hour after approval by kube-controller-manager's csrcleaner).
inline constexpr std::size_t kMaxListItems = 50'000;
// What a list response means: its CSRs on 200 (items carry no kind of their own, as recorded),
// else the error its status, body and Retry-After header say.
Result<CsrList> csr_list_from_response(int http_status, std::string_view body,
                                       std::string_view retry_after_header);

struct WatchEvent {
  enum class Type { Added, Modified, Deleted, Bookmark, Error } type = Type::Added;
  Csr object;
  std::optional<Error> error;  // ERROR events: the Status (e.g. 410 Expired)
};

// The longest watch event line accepted: a CSR object with a full chain (kMaxChainCertificates)
// is a few tens of KiB.
inline constexpr std::size_t kMaxWatchLine = 1u << 20;

// Splits a watch body into events: one JSON object per line; a line may arrive in pieces
// and several lines in one piece. A line that does not parse becomes an Unexpected error.
// Linear: each byte is scanned for the end of its line once. A line longer than `max_line`
// is an Unexpected error (without waiting for its end); the decoder then yields nothing more.
class WatchDecoder {
 public:
  explicit WatchDecoder(std::size_t max_line = kMaxWatchLine) : max_line_(max_line) {}
  // Appends bytes; returns the complete events they finish.
  std::vector<Result<WatchEvent>> feed(std::string_view bytes);

 private:
  std::size_t max_line_;
  std::string pending_;  // the unfinished line (never holds a newline: each byte is scanned once)
  bool failed_ = false;
};

Result<WatchEvent> parse_watch_line(std::string_view line);

}  // namespace kcd::api
