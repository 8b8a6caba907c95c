// Inside the agent: what it keeps per certificate and the code that performs each step of
// the lifecycle. Shared by agent.cpp (the run loop, state file, reports) and the files named for
// their concern: agent_credentials (endpoint, credentials, kubeconfig), agent_steps (inspect,
// sleep, key, submit, lookup, discard), agent_watch (awaiting a verdict), agent_install.
#pragma once

#include "base/trace.hpp"
#include "daemon/agent.hpp"
#include "daemon/api/csr_api.hpp"
#include "daemon/node_events.hpp"
#include "daemon/off_loop.hpp"
#include "rotation/node_request.hpp"
#include "rotation/store/store.hpp"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace kcd::daemon {

// Calls off the loop: one key generation per certificate.
inline constexpr std::size_t kMaxKeyGenerations = 2;
// CertificateExpiringSoon: less than this left on the current certificate while its renewal,
// due since the rotation deadline, has failed (or has been waiting longer than kRenewalOverdue).
inline constexpr std::chrono::hours kExpiringSoon{7 * 24};
inline constexpr std::chrono::hours kRenewalOverdue{1};
// An Event's message is cut here (the kubelet's recorder cuts at 1 KiB too).
inline constexpr std::size_t kMaxEventMessage = 1024;
// A key generation that has not finished by then counts as failed (and is retried with backoff).
inline constexpr std::chrono::minutes kKeyGenerationDeadline{2};

// The API server and cluster CA, and how we authenticate, for one step.
struct Connection {
  api::Endpoint endpoint;
  api::Credentials credentials;
  std::string auth_description;  // "bootstrap token", "client certificate <path>"
  bool as_node = false;          // authenticated with the node's own certificate
};

// A bench phase mark (base/trace) named "<cert>-<phase>": "client-post-start".
inline void trace_phase(rotation::CertKind kind, std::string_view phase) {
  if (trace::enabled()) trace::mark(std::string(rotation::to_string(kind)) + "-" + std::string(phase));
}

// A CSR's condition as the lifecycle sees it.
rotation::CsrView view_of(const api::Csr& csr);

// One certificate's lifecycle and what its steps have in hand.
struct CertificateRun {
  rotation::CertKind kind;
  std::unique_ptr<rotation::CertStore> store;
  rotation::Lifecycle machine;
  ossl::PKeyPtr pending_key;
  std::optional<api::Csr> issued;                // the CSR whose certificate awaits Install
  boost::asio::steady_timer* sleeper = nullptr;  // the timer run() is waiting on, if any
  api::CsrApi* active_request = nullptr;         // the API the request in flight uses, if any
  OffLoopWait* off_loop = nullptr;               // the call off the loop it waits for, if any
  bool renew_requested = false;
  bool nudged = false;  // what a backoff waits for has changed: re-check now
  std::string last_status;
  std::string prechecked;                  // the CSR the serving pre-check judged last
  std::string verdict_reported;            // the CSR whose Denied/Failed condition was posted
  std::optional<SysTime> expiry_reported;  // the notAfter CertificateExpiringSoon was posted for
};

// Performs the steps of every certificate's lifecycle with the effects it was given.
struct AgentDriver {
  AgentDriver(boost::asio::io_context& io_context, config::Settings s, AgentTimings t, AgentEvents e,
              AgentEffects fx);

  SysTime now() const { return effects.clock->now(); }

  CertificateRun& run_of(rotation::CertKind kind);
  void load_state_once();
  void persist(CertificateRun& s);
  void report(CertificateRun& s);

  // ---- endpoint and credentials (agent_credentials.cpp)
  std::optional<config::Kubeconfig> try_kubeconfig(const std::filesystem::path& path,
                                                   std::optional<Error>* error) const;
  // Server and CA: from the kubelet kubeconfig once it exists, else the bootstrap kubeconfig.
  Expected<Connection> connection(CertificateRun& s) const;
  // The connection, or nullopt once the lifecycle was told why there is none (a retryable failure).
  std::optional<Connection> connection_or_failed(CertificateRun& s);
  bool kubeconfig_stale(CertificateRun& s, const Connection& conn) const;
  Expected<void> write_kubeconfig(CertificateRun& s, const Connection& conn);

  // ---- steps (agent_steps.cpp, agent_watch.cpp, agent_install.cpp)
  boost::asio::awaitable<void> step(CertificateRun& s, const rotation::Step& st);
  rotation::Inspection inspect(CertificateRun& s);
  boost::asio::awaitable<void> sleep_until(CertificateRun& s, SysTime at);
  void ensure_pending_key(CertificateRun& s);
  boost::asio::awaitable<void> check_serving_request(CertificateRun& s, const std::string& csr,
                                                     const std::string& request_pem);
  void discard_pending_key_logged(CertificateRun& s);
  boost::asio::awaitable<void> await_csr(CertificateRun& s, const rotation::Step& st);
  void install(CertificateRun& s, const rotation::Step& st);

  // ---- the cluster CA (agent_cluster_ca.cpp)
  // At start, at the start of every rotation, after every installed certificate
  // (nudge_cluster_ca) and every clusterCACheckInterval (+-20%): check_cluster_ca.
  boost::asio::awaitable<void> follow_cluster_ca();
  // `rotating`: the certificate whose rotation is starting (not asked to renew once more).
  boost::asio::awaitable<void> check_cluster_ca(std::optional<rotation::CertKind> rotating = std::nullopt);
  void nudge_cluster_ca();
  // ---- Events about the node (agent_events.cpp)
  // The API as the node (its valid client certificate), or null: Events never use the bootstrap token.
  std::unique_ptr<api::CsrApi> node_api() const;
  NodeEvents::Open node_api_opener();
  void post_event(const std::string& type, const std::string& reason, const std::string& message,
                  const std::string& key);
  // A CSR with a Denied or Failed condition: posted once per CSR.
  void saw_csr(CertificateRun& s, const api::Csr& csr);
  void certificate_rejected(CertificateRun& s, const std::string& csr, const std::string& why);
  // After every step: under kExpiringSoon left and no successful renewal.
  void check_expiring(CertificateRun& s);

  boost::asio::io_context& io;
  config::Settings settings;
  rotation::NodeIdentity node;
  AgentTimings timings;
  AgentEvents events;
  AgentEffects effects;
  std::function<double()> uniform01;
  bool stop_requested = false;
  // Key generation (one per certificate at a time): a blocking call, run off the loop that
  // pings the watchdog.
  OffLoop keygen_calls;
  NodeEvents node_events;
  std::unique_ptr<CertificateRun> runs[2];
  // The cluster CA follower: its timer and request while waiting, and the published bundle a
  // renewal was last requested for (at most once per bundle: no CSR loop while a drop is held).
  boost::asio::steady_timer* ca_sleeper = nullptr;
  api::CsrApi* ca_request = nullptr;
  bool ca_nudged = false;
  std::string ca_renewed_for;
  ClusterCaCounts ca_counts;
  rotation::State state;
  rotation::State saved_state;
  bool state_loaded = false;
};

}  // namespace kcd::daemon
