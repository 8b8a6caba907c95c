// The daemon's local endpoints wired to it: the control socket's answers (status, renew) and
// the metrics served on metricsAddress and written to metricsTextfile.
#pragma once

#include "base/expected.hpp"
#include "config/settings.hpp"
#include "daemon/control.hpp"
#include "daemon/control_protocol.hpp"
#include "daemon/kubelet_worker.hpp"
#include "daemon/metrics.hpp"
#include "rotation/lifecycle.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <vector>

namespace kcd::daemon {

// What the endpoints read from and ask of the running daemon (the Supervisor is one).
class RunningDaemon {
 public:
  virtual ~RunningDaemon() = default;
  virtual const config::Settings& settings() const = 0;
  // The lifecycles of the certificates it manages (client, then serving unless turned off);
  // empty before the agent runs.
  virtual std::vector<const rotation::Lifecycle*> lifecycles() const = 0;
  virtual KubeletSummary kubelet_summary() const = 0;
  // Rotate these now; an error (for the requester) when one is not managed.
  virtual Expected<void> renew(const std::vector<rotation::CertKind>& certs) = 0;
  // Re-evaluate the CIS checks off the loop; kubelet_summary() has them once done.
  virtual void refresh_cis() {}
  // The Events about the node so far (none without an agent).
  virtual EventCounts event_counts() const { return {}; }
  virtual ClusterCaCounts cluster_ca_counts() const { return {}; }
};

class Endpoints {
 public:
  Endpoints(boost::asio::io_context& io, RunningDaemon& daemon) : io_(io), daemon_(daemon) {}
  Endpoints(const Endpoints&) = delete;
  Endpoints& operator=(const Endpoints&) = delete;

  // Opens the control socket and, when metricsAddress is set, the metrics endpoint. Neither is
  // fatal (the certificates matter more): a failure is logged and leaves that endpoint closed.
  void open();
  // Stops serving (a stopping daemon answers no more requests).
  void close();

  // The certificates moved on: the metrics textfile is rewritten.
  void certificates_changed();
  // The kubelet's config file changed or the CIS results were re-evaluated: the metrics
  // textfile is rewritten.
  void kubelet_changed() { certificates_changed(); }

  // The control socket's answer to one request.
  ControlReply answer(const ControlRequest& request);
  StatusReply status() const;
  // What the metrics show now.
  MetricsSnapshot snapshot() const;

 private:
  boost::asio::io_context& io_;
  RunningDaemon& daemon_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<MetricsServer> metrics_;
};

// The CIS results read files and /proc: a snapshot older than this asks for a fresh evaluation
// (on the kubelet worker; the metrics show the last one meanwhile).
inline constexpr std::chrono::minutes kCisRefreshInterval{1};

}  // namespace kcd::daemon
