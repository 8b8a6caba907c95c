// The fleet simulator: N nodes, each running the production rotation::Lifecycle for its client
// and serving certificate, against a modelled API server, in virtual time.
#pragma once

#include "rotation/cert_kind.hpp"
#include "rotation/lifecycle.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kcd::fleetsim {

using rotation::SysTime;
using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

// A half-open stretch of virtual time [from, to).
struct Window {
  SysTime from;
  SysTime to;
  bool contains(SysTime t) const { return t >= from && t < to; }
};

inline bool in_any(const std::vector<Window>& windows, SysTime t) {
  for (const Window& w : windows) {
    if (w.contains(t)) return true;
  }
  return false;
}

// A log-normal delay: half of the draws are below `median`; `sigma` is the spread of its log.
struct Latency {
  Millis median{500};
  double sigma = 0.5;
};

// What the control plane does with the fleet's requests and CSRs.
struct ApiServerModel {
  // Requests per second the API server serves for the fleet; beyond it, 429 with Retry-After,
  // as API Priority and Fairness answers when a priority level's queues are full.
  double capacity_per_second = 500;
  Seconds retry_after{1};
  Seconds watch_timeout{300};                  // the agent's timeoutSeconds per watch (daemon AgentTimings)
  Latency approve_client{Millis(500), 0.5};    // kube-controller-manager csrapproving (SubjectAccessReview)
  Latency approve_serving{Millis(2000), 0.7};  // an external serving approver (DNS and IP checks)
  Latency sign{Millis(200), 0.5};              // kube-controller-manager csrsigning
  std::vector<Window> outages;                 // connection refused; controllers stop too
  std::vector<Window> serving_approver_down;   // serving CSRs stay Pending
  double deny_share = 0;                       // of serving CSRs, denied by the approver
  // kube-controller-manager's csrcleaner: polls hourly, deletes issued or denied CSRs an hour
  // after the condition and CSRs without any condition a day after creation.
  Seconds cleaner_period{std::chrono::hours(1)};
  Seconds decided_expiration{std::chrono::hours(1)};
  Seconds pending_expiration{std::chrono::hours(24)};
  Seconds signer_backdate{std::chrono::minutes(5)};  // notBefore = signing time - this
};

enum class Start {
  Bootstrap,  // nothing on disk: every node starts within `start_spread` and bootstraps
  Issued,     // both certificates were issued within `start_spread` before the start, found by Inspect
};

struct FleetConfig {
  std::string scenario;
  int nodes = 1000;
  std::uint64_t seed = 1;
  Seconds lifetime{std::chrono::hours(24 * 365)};
  Seconds duration{std::chrono::hours(24 * 365)};
  Start start = Start::Issued;
  Seconds start_spread{60};
  ApiServerModel api;
  rotation::LifecyclePolicy policy;  // production defaults: see production_policy()
  // What recovery and the retry peak are measured against: an outage, the approver's absence,
  // the bootstrap itself. None for a steady run.
  std::optional<Window> disturbance;
};

// The policy daemon/agent.cpp gives each Lifecycle from the default settings and timings.
rotation::LifecyclePolicy production_policy();

// The origin of virtual time (any fixed instant; figures are relative to it).
SysTime epoch();

struct ExpiredCertificate {
  int node = 0;
  rotation::CertKind kind = rotation::CertKind::Client;
  SysTime expired_at;
  std::optional<SysTime> renewed_at;  // none: still expired when the run ended
  bool api_server_up_day_before = true;
};

// Counts per minute of virtual time, from the epoch.
struct MinuteSeries {
  std::vector<std::uint32_t> csrs_created;
  std::vector<std::uint32_t> requests;   // reached the API server (429s included)
  std::vector<std::uint32_t> throttled;  // answered 429
  std::vector<std::uint32_t> refused;    // connection refused (the API server was down)
  std::vector<std::uint32_t> stored;     // CSR objects stored at the end of the minute
};

struct FleetReport {
  FleetConfig config;

  long csrs_created = 0;
  long api_requests = 0;
  long throttled = 0;
  long refused = 0;
  long denied = 0;
  long garbage_collected = 0;
  long installs = 0;

  std::uint32_t peak_csrs_per_minute = 0;
  double p99_csrs_per_minute = 0;
  std::uint32_t peak_requests_per_minute = 0;
  double p99_requests_per_minute = 0;

  // Rotations (CSRs of lifecycles that already held a certificate) counted in buckets of 5 % of
  // the lifetime, against an even spread over the configured window: rotating certificates /
  // (window × lifetime). Empty when the run is shorter than the first rotation window.
  Seconds rotation_bucket{0};
  std::optional<double> peak_rotation_rate_per_minute;
  std::optional<double> even_rotation_rate_per_minute;

  double api_requests_per_node_day = 0;
  // Over the stretches when every lifecycle of the fleet was Idle.
  std::optional<double> idle_api_requests_per_node_day;
  double idle_days = 0;

  // The hour before the disturbance against the hour after it ended.
  std::optional<double> steady_requests_per_minute;
  // The busiest minute of the hour before: what the same statistic shows without any trouble
  // (a one-minute count of a few requests is 2x its mean by chance alone at 1,000 nodes).
  std::optional<std::uint32_t> steady_peak_requests_per_minute;
  std::optional<std::uint32_t> retry_peak_requests_per_minute;
  std::optional<double> steady_csrs_per_minute;
  std::optional<std::uint32_t> retry_peak_csrs_per_minute;

  long max_stored_csrs = 0;
  int max_stored_csrs_per_node = 0;

  // Certificates that had to be renewed because of the disturbance, and when the last of them
  // was installed (relative to the end of the disturbance).
  long disturbed_certificates = 0;
  std::optional<Seconds> recovery_after_disturbance;

  std::vector<ExpiredCertificate> expired;
  long expired_with_api_server_up = 0;

  long lifecycle_steps = 0;
  long events = 0;
  double wall_seconds = 0;

  MinuteSeries series;
};

FleetReport simulate(const FleetConfig& config);

}  // namespace kcd::fleetsim
