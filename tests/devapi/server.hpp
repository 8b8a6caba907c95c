// kubelet-certd-devapi: a loopback HTTPS server playing kube-apiserver + kube-controller-manager
// for certificatesigningrequests (create/get/list/watch/approve/deny/delete, bootstrap-token
// and client-certificate authentication, the csrapproving auto-approver, the csrsigning
// signer), answering like the recordings in tests/fixtures/k8s-api, with fault knobs, and a
// cluster CA that can be rotated at runtime the way kubeadm's manual procedure does it.
// Its parts, one concern each: store.hpp, controllers.hpp, auth.hpp, authority.hpp, faults.hpp, and the HTTP
// layer in http_server.hpp (routes), csr_api.hpp, watch.hpp, status.hpp and wire.hpp.
#pragma once

#include "base/expected.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace kcd::devapi {

// Misbehaviour on demand; adjustable at runtime (set_faults or PUT /devapi/v1/faults).
struct Faults {
  std::chrono::milliseconds response_delay{0};  // before every response
  int fail_next_with_5xx = 0;                   // the next N requests get 500 InternalError
  int throttle_next = 0;                        // the next N requests get 429 + Retry-After
  int retry_after_seconds = 1;
  bool drop_watches = false;             // watches: headers, then the connection closes
  bool silent_watches = false;           // watches: headers, then nothing, never ending
  bool watch_too_old = false;            // watches: one ERROR 410 Expired event, then the end
  bool deny_all = false;                 // the approver denies every CSR
  bool fail_all = false;                 // the signer marks every approved CSR Failed
  bool wrong_key_certificate = false;    // the signer issues for a different public key
  bool refuse_connections = false;       // "API server down": new connections are closed at once,
                                         // open ones are cut
  std::set<std::string> revoked_tokens;  // these bearer tokens now get 401
  bool reject_client_certs = false;      // every client certificate gets 401 (an expired node)
};

nlohmann::json to_json(const Faults& f);
Faults faults_from_json(const nlohmann::json& j);

// Who approves kubernetes.io/kubelet-serving CSRs inside devapi: nobody (the default, as on a
// stock cluster: a real approver such as `kubelet-certd approve` must), a strict built-in one,
// or everything.
enum class ServingApprover { None, Strict, All };

// A client certificate and its key, PEM.
struct ClientCredential {
  std::string cert_pem, key_pem;
};

struct Options {
  std::string listen_host = "127.0.0.1";
  uint16_t port = 0;
  std::filesystem::path state_dir;            // CAs, kubeconfigs, devapi.json
  std::vector<std::string> bootstrap_tokens;  // "abcdef.0123456789abcdef"; one is generated if empty
  std::string admin_token;                    // generated if empty
  std::chrono::seconds signing_duration{std::chrono::hours(8760)};  // --cluster-signing-duration
  bool auto_approve_client = true;                                  // the built-in csrapproving controller
  ServingApprover serving_approver = ServingApprover::None;
  std::chrono::milliseconds approve_delay{5};  // ADDED -> Approved
  std::chrono::milliseconds sign_delay{5};     // Approved -> certificate
  int watch_cache_events = 1000;               // history window; older resourceVersions get 410
  long initial_resource_version = 200;         // the first object gets this + 1
  bool log_requests = false;                   // one line per request on stderr
  bool cluster_info = true;  // kube-public/cluster-info published (kubeadm does; other installers may not)
};

class Server {
 public:
  explicit Server(Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();  // own io thread; port() is valid afterwards
  void stop();

  uint16_t port() const;
  std::string url() const;  // https://127.0.0.1:<port>
  // The CAs (authority.hpp). Until a CA step runs, the bundle, the signer and the serving CA
  // are one and the same CA.
  std::string ca_pem() const;          // the signer: it signs CSRs and issue_client_credential
  std::string ca_key_pem() const;      // the signer's key
  std::string bundle_pem() const;      // every CA, oldest first: what cluster-info and the kubeconfigs carry
  std::string serving_ca_pem() const;  // the CA of the serving certificate new connections get
  nlohmann::json ca_summary() const;   // Authority::summary()

  // kubeadm's manual CA rotation, one step at a time (authority.hpp: what each does, when it is
  // refused, with nothing changed). A step that applies is persisted in the state directory
  // (cas.json; ca.crt and the kubeconfigs carry the new bundle), republishes cluster-info when
  // the bundle changed, and answers ca_summary(). switch_signer also re-issues the approver's
  // credential from the new signer; switch_serving gives new connections a new certificate.
  Expected<nlohmann::json> add_ca();
  Expected<nlohmann::json> switch_signer();
  Expected<nlohmann::json> switch_serving();
  Expected<nlohmann::json> drop_ca();

  std::string bootstrap_token() const;
  std::string admin_token() const;
  std::filesystem::path bootstrap_kubeconfig_path() const;
  // The serving-CSR approver's identity (CN=system:kubelet-certd-approver, no O; its RBAC is
  // packaging/kubernetes/approver-rbac.yaml), also written as approver.conf in the state dir.
  ClientCredential approver_credential() const;
  std::filesystem::path approver_kubeconfig_path() const;
  // A client certificate from devapi's signer CA for any identity (a node: CN=system:node:<n>,
  // O=system:nodes; an identity without RBAC: any other CN); valid from an hour ago for a year.
  ClientCredential issue_client_credential(const std::string& common_name,
                                           const std::vector<std::string>& organizations = {}) const;

  Faults faults() const;
  void set_faults(const Faults& faults);

  std::vector<nlohmann::json> list_csrs() const;
  int csrs_created() const;
  // Per issued CSR: from its POST being stored to its certificate being signed (the server's own
  // approve + sign time, approve_delay + sign_delay plus the timers' lateness and the signing).
  std::map<std::string, std::chrono::nanoseconds> issue_times() const;
  std::map<std::string, int> request_counts() const;    // "POST csr", "GET csr", "LIST csr", "WATCH csr", ...
  void approve(const std::string& name, bool approve);  // kubectl certificate approve / deny
  void delete_csr(const std::string& name);             // the CSR cleaner

  // Nodes, leases and events (what the admin could read or do through the API).
  // Registers Node `name` as the admin (kubelet-style labels, no status); false when it exists.
  bool create_node(const std::string& name);
  // PATCH /api/v1/nodes/<name>/status as the admin: `strategic` picks
  // application/strategic-merge-patch+json (addresses merge by type) over
  // application/merge-patch+json (the list is replaced). The HTTP status it answered with.
  int patch_node_status(const std::string& name, const nlohmann::json& patch, bool strategic = false);
  // Sets status.addresses (a JSON merge patch): {{"InternalIP", "10.0.0.5"}, {"Hostname", "n1"}}.
  int set_node_addresses(const std::string& name,
                         const std::vector<std::pair<std::string, std::string>>& addresses);
  // Every stored object of "nodes", "leases" or "events" (both API groups), in the recorded shape.
  std::vector<nlohmann::json> list_objects(const std::string& resource) const;

 private:
  struct ControlPlane;  // store, controllers, auth and HTTP on one io thread (server.cpp)
  std::unique_ptr<ControlPlane> control_plane_;
};

}  // namespace kcd::devapi
