// `kubelet-certd approve`: approves kubernetes.io/kubelet-serving CSRs that match their Node,
// one leader at a time.
//
// Three loops on one io_context:
//   - the Lease: every retryPeriod read kube-system/kubelet-certd-approver and let the pure
//     LeaderElector say whether to create, renew or take it over (client-go's rules);
//   - the CSRs: list every kubelet-serving CSR, watch from the list's resourceVersion, relist
//     on 410 Gone and every resync period;
//   - the decisions: while leading (checked again right before every write), each pending CSR
//     (no Approved, Denied or Failed condition) is decided by rotation::decide_serving_csr
//     against its Node's addresses. Approve and Deny are a PUT to .../approval carrying the
//     resourceVersion read, so a CSR decided meanwhile (by an earlier leader) is a 409 and is
//     read again, never decided twice. Wait (no Node yet, no addresses) is checked again with
//     backoff; a transient reason never denies.
// Each decision is an Event on the CSR and, when it exists, on the Node.
#pragma once

#include "daemon/api/client.hpp"
#include "daemon/leader_election.hpp"
#include "rotation/backoff.hpp"
#include "rotation/serving_approval.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace kcd::daemon {

inline constexpr std::string_view kServingSigner = "kubernetes.io/kubelet-serving";

struct ApproverConfig {
  std::string identity;  // the Lease holder: unique per process (<name>_<random>)
  std::string host;      // the Events' source.host / reportingInstance
  std::string lease_namespace = "kube-system";
  std::string lease_name = "kubelet-certd-approver";
  LeaderTimings timings;
  rotation::ServingApprovalPolicy policy;
  std::chrono::seconds resync{std::chrono::minutes(5)};
  std::chrono::seconds watch_timeout{std::chrono::minutes(5)};
  rotation::BackoffPolicy backoff{std::chrono::seconds(1), std::chrono::minutes(5)};  // API failures
  // A CSR that waits (no Node yet, no addresses) is looked at again after this backoff.
  rotation::BackoffPolicy wait_backoff{std::chrono::seconds(1), std::chrono::seconds(30)};
};

// A client for the approver's own identity, made anew after an authentication failure (a
// rotated ServiceAccount token or certificate is then read again).
using ApproverClientFactory = std::function<Expected<std::unique_ptr<api::Client>>()>;

// The metrics: decisions by result and rule, pending count, leader or not.
struct ApproverMetrics {
  std::map<std::pair<std::string, std::string>, long> decisions;  // (approve|deny|wait, rule) -> count
  long pending = 0;
  bool leader = false;
  long leader_transitions = 0;  // times this replica became leader
  long api_errors = 0;
};
std::string render_approver_metrics(const ApproverMetrics& m);

// What the rules need from a CSR object (its request parsed): shared with the agent's pre-check.
using api::serving_csr_of;

class Approver {
 public:
  Approver(boost::asio::io_context& io, ApproverClientFactory clients, ApproverConfig config);
  ~Approver();
  Approver(const Approver&) = delete;
  Approver& operator=(const Approver&) = delete;

  // Runs until stop(); a fatal error (no client can be made at all) ends it with that error.
  boost::asio::awaitable<Expected<void>> run();
  // Ends run(): gives the Lease up when leading (its holder is cleared, so another replica
  // takes over at once) and cancels whatever is in flight.
  void stop();
  const ApproverMetrics& metrics() const { return metrics_; }
  bool leading() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ApproverMetrics metrics_;
};

}  // namespace kcd::daemon
