#include "daemon/endpoints.hpp"

#include "base/files.hpp"
#include "daemon/kubelet_setup.hpp"
#include "systemd/log.hpp"

#include <unistd.h>

namespace kcd::daemon {

using rotation::CertKind;

void Endpoints::open() {
  auto control = ControlServer::open(io_, daemon_.settings().cert_dir,
                                     [this](const ControlRequest& r) { return answer(r); });
  if (control) {
    control_ = std::move(*control);
  } else {
    // Not fatal: the certificates matter more than the renew command.
    log::error("control socket unavailable", {{"error", control.error().format()}});
  }
  const auto& address = daemon_.settings().metrics_address;
  if (!address) return;
  auto metrics = MetricsServer::listen(io_, *address, [this] { return render_prometheus(snapshot()); });
  if (!metrics) {
    log::error("metrics endpoint unavailable", {{"error", metrics.error().format()},
                                                {"hint", "set metricsAddress to a free port, or empty"}});
    return;
  }
  metrics_ = std::move(*metrics);
  log::info("metrics listening",
            {{"address", address->text()}, {"port", static_cast<long>(metrics_->port())}});
}

void Endpoints::close() {
  if (control_) control_->close();
  if (metrics_) metrics_->close();
}

// node_exporter's textfile collector reads whole files: written atomically, 0644.
void Endpoints::certificates_changed() {
  const auto& path = daemon_.settings().metrics_textfile;
  if (path.empty()) return;
  if (auto written = kcd::write_file_through(path, render_prometheus(snapshot()), 0644); !written)
    log::warn("metrics textfile not written", {{"path", path}, {"error", written.error().format()}});
}

StatusReply Endpoints::status() const {
  StatusReply reply;
  for (const rotation::Lifecycle* m : daemon_.lifecycles()) reply.certs.push_back(report_of(*m));
  reply.pid = static_cast<long>(::getpid());
  const KubeletSummary k = daemon_.kubelet_summary();
  reply.kubelet.kubelet = k.kubelet;
  reply.kubelet.rollbacks = k.rollbacks;
  for (const auto& h : k.held_back) reply.kubelet.held_back.push_back({h.key, h.cis, h.reason});
  reply.kubelet.refused_keys = k.refused_keys;
  return reply;
}

ControlReply Endpoints::answer(const ControlRequest& request) {
  switch (request.command) {
    case ControlCommand::Status:
      return status();
    case ControlCommand::Renew: {
      StatusReply before = status();
      if (auto renewing = daemon_.renew(request.certs); !renewing)
        return ErrorReply{renewing.error().message};
      log::info("renewal requested", {{"via", "control socket"}});
      return RenewReply{std::move(before)};
    }
  }
  return ErrorReply{"unknown command"};
}

MetricsSnapshot Endpoints::snapshot() const {
  MetricsSnapshot snap;
  snap.now = std::chrono::system_clock::now();
  for (const rotation::Lifecycle* m : daemon_.lifecycles()) {
    CertMetrics c;
    c.cert = std::string(rotation::to_string(m->kind()));
    if (m->current()) c.not_after = m->current()->not_after;
    const auto& st = m->persistent();
    c.rotation_deadline = st.deadline;
    if (st.pending && st.pending->filed) c.pending_since = st.pending->filed_at;
    c.last_success = st.last_success;
    c.csrs_created = st.csrs_created;
    c.attempts = m->outcomes();
    c.valid = m->current() && m->current()->not_after > snap.now;
    snap.certs.push_back(c);
  }
  const KubeletSummary k = daemon_.kubelet_summary();
  // Only formatted here: the checks read files and /proc, on the kubelet worker.
  if (k.cis_evaluated == std::chrono::steady_clock::time_point{} ||
      std::chrono::steady_clock::now() - k.cis_evaluated > kCisRefreshInterval)
    daemon_.refresh_cis();
  for (const auto& r : k.cis) snap.cis.push_back(CisMetric{r.id, std::string(kubelet::to_string(r.status))});
  snap.events = daemon_.event_counts();
  snap.cluster_ca = daemon_.cluster_ca_counts();
  snap.kubelet.rollbacks = k.rollbacks;
  snap.kubelet.refused_keys = k.refused_keys;
  for (const auto& h : k.held_back) snap.kubelet.held_keys.push_back(h.key);
  return snap;
}

}  // namespace kcd::daemon
