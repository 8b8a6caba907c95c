// Prometheus metrics: the text exposition of what the agent knows, served on a loopback
// address and optionally written to a node_exporter textfile.
#pragma once

#include "base/expected.hpp"
#include "config/settings.hpp"
#include "daemon/event_correlator.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kcd::daemon {

using SysTime = std::chrono::system_clock::time_point;

struct CertMetrics {
  std::string cert;  // client | serving
  std::optional<SysTime> not_after, rotation_deadline, pending_since, last_success;
  long csrs_created = 0;
  std::map<std::string, long> attempts;  // by result
  bool valid = false;
};

struct CisMetric {
  std::string id;
  std::string status;  // PASS | FAIL | WARN
};

// What kubelet-certd did to the kubelet's config file.
struct KubeletMetrics {
  long rollbacks = 0;                     // changes rolled back because the kubelet did not come back
  std::vector<std::string> refused_keys;  // keys not written again after a rollback
  std::vector<std::string> held_keys;     // keys held back (this kubelet would refuse them, or refused)
};

// The cluster CA follower's checks of kube-public/cluster-info, by result: unchanged, followed,
// held, refused, unreadable (404/403/401: not published for anonymous readers), failed.
struct ClusterCaCounts {
  std::map<std::string, long> checks;
  std::optional<SysTime> last_followed;
};

struct MetricsSnapshot {
  std::vector<CertMetrics> certs;
  std::vector<CisMetric> cis;
  KubeletMetrics kubelet;
  EventCounts events;  // the Events about the node
  ClusterCaCounts cluster_ca;
  SysTime now{};
};

// Prometheus text format 0.0.4, every family with HELP and TYPE, names kubelet_certd_*.
std::string render_prometheus(const MetricsSnapshot& snapshot);
// Pieces of the text exposition format, shared with the approver's metrics: a family's HELP and
// TYPE lines, and a label value with backslash, double quote and newline escaped (a value can
// never end its label or its line).
void metric_family(std::string& out, const std::string& name, const std::string& type,
                   const std::string& help);
std::string metric_label_value(std::string_view v);

struct ListenerLimits;
// Connections the metrics endpoint holds at once, and how long each may stay (daemon/listener.hpp).
extern const ListenerLimits kMetricsLimits;

class MetricsServer {
 public:
  // Listens on host:port (loopback) and serves GET /metrics with render() on `io`. The error
  // names the address.
  static Expected<std::unique_ptr<MetricsServer>> listen(boost::asio::io_context& io,
                                                         const config::ListenAddress& address,
                                                         std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  unsigned short port() const;
  void close();

 private:
  struct Listener;
  explicit MetricsServer(std::unique_ptr<Listener> listener);
  std::unique_ptr<Listener> listener_;
};

}  // namespace kcd::daemon
