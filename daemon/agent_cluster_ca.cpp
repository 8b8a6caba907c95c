// The cluster CA follower: reads kube-public/cluster-info anonymously over a connection
// verified with the bundle the node trusts (kubelet.conf's), decides with decide_ca_follow, and
// writes kubelet.conf; the kubelet worker then updates the client CA file and restarts the kubelet.
#include "daemon/agent_driver.hpp"
#include "daemon/cluster_ca.hpp"
#include "daemon/restart_owed.hpp"
#include "systemd/log.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kcd::daemon {

namespace asio = boost::asio;
using rotation::CertKind;

namespace {

std::string kinds_text(const std::vector<CertKind>& kinds) {
  std::string out;
  for (auto k : kinds) out += std::string(out.empty() ? "" : ", ") + std::string(rotation::to_string(k));
  return out;
}

}  // namespace

void AgentDriver::nudge_cluster_ca() {
  ca_nudged = true;
  if (ca_sleeper) ca_sleeper->cancel();
}

asio::awaitable<void> AgentDriver::follow_cluster_ca() {
  asio::steady_timer timer(io);
  ca_sleeper = &timer;
  while (!stop_requested) {
    ca_nudged = false;
    co_await check_cluster_ca();
    if (stop_requested) break;
    // A modest interval, jittered so a fleet does not read cluster-info in step.
    const double factor = 0.8 + 0.4 * uniform01();
    const auto span =
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(
            static_cast<double>(settings.cluster_ca_check_interval.count()) * factor));
    const SysTime at = now() + span;
    while (!stop_requested && !ca_nudged) {
      const SysTime t = now();
      if (t >= at) break;
      const auto wait = std::min<std::chrono::system_clock::duration>(at - t, timings.max_sleep_chunk);
      timer.expires_after(effects.clock->pass(wait));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  ca_sleeper = nullptr;
}

asio::awaitable<void> AgentDriver::check_cluster_ca(std::optional<CertKind> rotating) {
  CertificateRun* client = runs[static_cast<int>(CertKind::Client)].get();
  if (client == nullptr) co_return;
  // Only once the node has its kubeconfig: before, the bootstrap kubeconfig is the operator's.
  std::optional<Error> unusable;
  auto kc = try_kubeconfig(settings.kubeconfig, &unusable);
  if (!kc) co_return;
  auto trusted = check_kubeconfig_ca(*kc, now());
  if (!trusted) co_return;

  Connection conn;
  conn.endpoint.server = kc->server;
  conn.endpoint.ca_pem = kc->ca_pem;
  conn.endpoint.tls_server_name = kc->tls_server_name;
  // Anonymously, as kubeadm's discovery reads it: kubeadm grants it to system:anonymous only.
  std::unique_ptr<api::CsrApi> anonymous = effects.csr_api(conn.endpoint, api::Credentials{});
  ca_request = anonymous.get();
  const std::string ns = "kube-public";
  const std::string name = "cluster-info";
  auto got = co_await anonymous->get_config_map(ns, name);
  ca_request = nullptr;
  if (stop_requested) co_return;
  if (!got) {
    const Error& e = got.error();
    if (e.kind == ErrorKind::NotFound || e.kind == ErrorKind::Forbidden ||
        e.kind == ErrorKind::Unauthorized) {
      ++ca_counts.checks["unreadable"];
      log::info(
          "cluster CA not followed: kube-public/cluster-info is not readable anonymously",
          {{"error", e.format()}, {"hint", "kubeadm publishes it; elsewhere set followClusterCA: false"}});
    } else {
      ++ca_counts.checks["failed"];
      log::warn("cluster CA not checked", {{"error", e.format()}, {"next", "at the next check"}});
    }
    co_return;
  }

  std::optional<config::BootstrapToken> token;
  if (auto boot = effects.kubeconfigs->load(settings.bootstrap_kubeconfig); boot && *boot && (*boot)->token)
    token = config::parse_bootstrap_token(*(*boot)->token);
  std::vector<NodeCertificate> installed;
  for (auto& r : runs) {
    if (!r) continue;
    auto current = r->store->load_current();
    if (current && *current) installed.push_back(NodeCertificate{r->kind, std::move((*current)->chain)});
  }

  const CaFollowDecision d = decide_ca_follow(*trusted, got->data, token, installed, now());
  auto renew_once = [&] {
    if (d.renew.empty() || ca_renewed_for == d.bundle_pem) return;
    ca_renewed_for = d.bundle_pem;
    log::info("renewing for the cluster CA change", {{"certs", kinds_text(d.renew)}});
    for (CertKind k : d.renew) {
      if (k == rotating) continue;  // its rotation, starting now, is the re-issue
      auto& r = run_of(k);
      r.renew_requested = true;
      if (r.sleeper) r.sleeper->cancel();
    }
  };
  switch (d.action) {
    case CaFollowDecision::Action::None:
      ++ca_counts.checks["unchanged"];
      log::debug("cluster CA bundle unchanged", {{"path", settings.kubeconfig}});
      break;
    case CaFollowDecision::Action::Refuse:
      ++ca_counts.checks["refused"];
      log::error("cluster CA bundle not followed; nothing was written",
                 {{"error", d.message}, {"path", settings.kubeconfig}});
      break;
    case CaFollowDecision::Action::Hold:
      ++ca_counts.checks["held"];
      log::warn("cluster CA drop held", {{"why", d.message}});
      renew_once();
      break;
    case CaFollowDecision::Action::Apply: {
      conn.endpoint.ca_pem = d.bundle_pem;
      // The kubelet reads kubelet.conf's CA data when it starts: its restart is owed before the
      // file changes, so a crash before the kubelet worker restarts it still has it done. The
      // file is written under the record's lock: a restart the worker starts after it reads the
      // record has the new bundle to read.
      bool recorded = false;
      auto owed = owe_kubelet_restart(settings.cert_dir,
                                      "cluster CA bundle in " + settings.kubeconfig.string() + " changed",
                                      now(), [&]() -> Expected<void> {
                                        recorded = true;
                                        return write_kubeconfig(*client, conn);
                                      });
      if (!owed && !recorded) {
        ++ca_counts.checks["failed"];
        log::error("cluster CA bundle not written: the kubelet restart it needs cannot be recorded",
                   {{"path", settings.kubeconfig}, {"error", owed.error().format()}});
        break;
      }
      if (!owed) {
        ++ca_counts.checks["failed"];
        log::error("cluster CA bundle not written",
                   {{"path", settings.kubeconfig}, {"error", owed.error().format()}});
        break;
      }
      ++ca_counts.checks["followed"];
      ca_counts.last_followed = now();
      log::info("cluster CA bundle followed", {{"path", settings.kubeconfig}, {"change", d.message}});
      post_event("Normal", "ClusterCABundleChanged", d.message, "cluster-ca");
      if (events.cluster_ca_changed) events.cluster_ca_changed();
      renew_once();
      break;
    }
  }
}

}  // namespace kcd::daemon
