// An in-process CSR API for agent tests: kube-apiserver and kube-controller-manager for CSRs
// the way devapi plays them (201, 409, watch events, 410 Expired, Denied, Failed, the issued
// certificate, 401 and 429 with Retry-After), on a virtual clock, with devapi's fault knobs;
// Nodes (get) and core/v1 Events (create, patch: what was posted is kept, with who posted it).
// Nothing here sleeps or opens a socket.
#pragma once

#include "daemon/api/csr_api.hpp"
#include "tests/fakes/virtual_clock.hpp"
#include "tests/support/test_ca.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kcd::testing {

// Misbehaviour on demand, as devapi::Faults.
struct FakeFaults {
  int throttle_next = 0;  // the next N requests get 429 + Retry-After
  int retry_after_seconds = 1;
  int fail_next_with_5xx = 0;            // the next N requests get 500 InternalError
  bool silent_watches = false;           // watches deliver nothing until the read deadline
  bool watch_too_old = false;            // watches: one ERROR 410 Expired event, then the end
  bool deny_all = false;                 // the approver denies every CSR
  bool fail_all = false;                 // the signer marks every approved CSR Failed
  bool wrong_key_certificate = false;    // the signer issues for a different public key
  bool reject_client_certs = false;      // every client certificate gets 401 (an expired node)
  std::set<std::string> revoked_tokens;  // these bearer tokens now get 401
  bool events_forbidden = false;         // Events get 403 (no Node authorizer for events)
  bool hang_events = false;              // Event requests never answer (until cancelled)
};

// One Event request as the server saw it.
struct PostedEvent {
  std::string verb;  // "create" or "patch"
  std::string user;  // who posted it ("system:node:worker-1"); empty when refused before that
  int status = 0;    // the HTTP status answered
  api::EventRecord event;
};

// The cluster's CSRs and controllers. Hands out CsrApi connections (factory()) that share it.
class FakeCsrApiServer {
 public:
  explicit FakeCsrApiServer(VirtualClock& clock);

  // The agent's AgentEffects::csr_api.
  api::CsrApiFactory factory();

  std::string ca_pem() const;
  std::string bootstrap_token() const { return "abcdef.0123456789abcdef"; }

  FakeFaults faults;
  bool auto_approve_client = true;    // the csrapproving controller (client CSRs only)
  bool auto_approve_serving = false;  // an approver for serving CSRs
  std::chrono::seconds signing_duration{std::chrono::hours(8760)};  // --cluster-signing-duration

  // kubectl certificate approve / deny.
  void approve(const std::string& name, bool approve);

  int csrs_created() const { return static_cast<int>(created_.size()); }
  // When each CSR was created (virtual time), in order.
  const std::vector<daemon::SysTime>& created_at() const { return created_; }
  // Requests by verb: "POST csr", "GET csr", "WATCH csr".
  int requests(const std::string& verb) const;
  std::vector<api::Csr> csrs() const;

  // ConfigMaps by "<namespace>/<name>" (kube-public/cluster-info), readable anonymously only.
  std::map<std::string, api::ConfigMap> config_maps;
  // Nodes: status.addresses of each registered Node (a missing Node is 404).
  std::map<std::string, std::vector<rotation::NodeAddress>> nodes;
  // Every Event request in order, and the Events as stored (by name) after creates and patches.
  const std::vector<PostedEvent>& event_requests() const { return event_requests_; }
  std::vector<api::EventRecord> events() const;

  // What one connection's requests do (FakeCsrApi forwards here).
  api::Result<api::Csr> create(const api::CsrCreate& request, const api::Credentials& credentials);
  api::Result<api::Csr> get(const std::string& name, const api::Credentials& credentials);
  api::Result<api::WatchEnd> watch(const std::string& name, const std::string& resource_version,
                                   std::chrono::seconds timeout_seconds, std::chrono::seconds read_deadline,
                                   const std::function<bool(const api::WatchEvent&)>& on_event,
                                   const api::Credentials& credentials);
  api::Result<api::Node> get_node(const std::string& name, const api::Credentials& credentials);
  api::Result<api::ConfigMap> get_config_map(const std::string& ns, const std::string& name,
                                             const api::Credentials& credentials);
  api::Result<void> post_event(const std::string& verb, const api::EventRecord& event,
                               const api::Credentials& credentials);

 private:
  struct Event {
    long resource_version;
    api::WatchEvent::Type type;
    api::Csr object;
  };

  // The user the credentials authenticate, or 401; then the faults that answer before any handler.
  api::Result<std::string> admit(const std::string& verb, const api::Credentials& credentials);
  // The approver and the signer: devapi runs them a few milliseconds after each change; here
  // they run before the next request, which is as soon as the agent can tell.
  void run_controllers();
  void sign(api::Csr& csr);
  void modified(api::Csr& csr);

  VirtualClock& clock_;
  TestCa ca_;
  long resource_version_ = 200;
  std::map<std::string, api::Csr> csrs_;
  std::vector<Event> history_;
  std::vector<daemon::SysTime> created_;
  std::map<std::string, int> requests_;
  std::vector<PostedEvent> event_requests_;
  std::map<std::string, api::EventRecord> events_;
};

}  // namespace kcd::testing
