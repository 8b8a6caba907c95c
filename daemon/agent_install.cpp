#include "daemon/agent_driver.hpp"

#include "base/files.hpp"
#include "base/rfc3339.hpp"
#include "rotation/certificate.hpp"
#include "rotation/validate.hpp"
#include "systemd/log.hpp"

namespace kcd::daemon {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using rotation::CertKind;
using rotation::Step;

void AgentDriver::install(CertificateRun& s, const Step& st) {
  const auto kind_name = to_string(s.kind);
  const auto t = now();
  ensure_pending_key(s);
  if (!s.issued || s.issued->name != st.csr || !s.pending_key) {
    // Resumed without the certificate in memory: fetch it again.
    s.machine.watch_ended(true, t);
    return;
  }
  auto conn = connection(s);
  if (!conn) {
    s.machine.failed(conn.error(), t);
    return;
  }
  auto chain =
      rotation::parse_certificates_pem(s.issued->certificate_pem, "status.certificate of csr " + st.csr);
  if (!chain) {
    log::error("certificate rejected",
               {{"cert", kind_name}, {"csr", st.csr}, {"reason", chain.error().message}});
    certificate_rejected(s, st.csr, chain.error().message);
    s.machine.rejected(chain.error().message, t);
    return;
  }
  auto anchors =
      rotation::parse_certificates_pem(conn->endpoint.ca_pem, "cluster CA", rotation::kMaxBundleCertificates);
  if (!anchors) {
    s.machine.failed(anchors.error(), t);
    return;
  }
  auto verdict =
      rotation::validate_issued(*chain, rotation::policy_for(s.kind, node, s.pending_key.get(), *anchors, t));
  if (!verdict) {
    log::error("certificate rejected",
               {{"cert", kind_name}, {"csr", st.csr}, {"reason", verdict.error().message}});
    certificate_rejected(s, st.csr, verdict.error().message);
    s.machine.rejected(verdict.error().message, t);
    return;
  }
  kcd::crash_point("cert-received");
  trace_phase(s.kind, "install-start");
  auto failed = [&](const Error& e) {
    log::error("install failed", {{"cert", kind_name}, {"csr", st.csr}, {"error", e.format()}});
    s.machine.failed(e, t);
  };
  auto file = s.store->install(*chain, s.pending_key.get(), t);
  if (!file) return failed(file.error());
  trace_phase(s.kind, "install-end");
  log::info("certificate installed", {{"cert", kind_name},
                                      {"csr", st.csr},
                                      {"path", *file},
                                      {"serial", verdict->serial},
                                      {"not_after", verdict->not_after}});
  if (s.kind == CertKind::Client) {
    if (auto written = write_kubeconfig(s, *conn); !written) return failed(written.error());
    trace_phase(s.kind, "kubeconfig-end");
  }
  // Not fsync'ed: a pending key a power loss brings back is the installed certificate's key,
  // which the next start's inspection recognises and removes.
  if (auto removed = s.store->discard_pending_key(Sync::None); !removed) return failed(removed.error());
  s.pending_key.reset();
  s.issued.reset();
  for (const auto& removed : s.store->prune(settings.keep_certificates)) {
    log::info("old certificate removed", {{"cert", kind_name}, {"path", removed}});
  }
  s.machine.installed(*verdict, t);
  trace_phase(s.kind, "installed");
  // Posted once installed, so a new client certificate already carries it.
  post_event("Normal", "CertificateRotated",
             "kubelet " + std::string(kind_name) + " certificate rotated; new certificate valid until " +
                 to_rfc3339(verdict->not_after),
             std::string(kind_name));
  if (s.kind == CertKind::Serving && events.serving_installed) events.serving_installed(*file);
  if (s.kind == CertKind::Client) {
    // A serving request waiting for a client certificate can go now.
    if (auto& serving = runs[static_cast<int>(CertKind::Serving)]; serving && serving->machine.retry_now()) {
      serving->nudged = true;
      if (serving->sleeper) serving->sleeper->cancel();
    }
  }
  log::info("rotation scheduled",
            {{"cert", kind_name}, {"rotation_deadline", *s.machine.persistent().deadline}});
  nudge_cluster_ca();
}

}  // namespace kcd::daemon
