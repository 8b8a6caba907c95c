#include "daemon/agent_driver.hpp"

#include "base/outside_text.hpp"
#include "base/rfc3339.hpp"
#include "systemd/log.hpp"

namespace kcd::daemon {

using rotation::CertKind;

std::unique_ptr<api::CsrApi> AgentDriver::node_api() const {
  const auto& client = runs[static_cast<int>(CertKind::Client)];
  if (!client) return nullptr;
  const auto& current = client->machine.current();
  // A certificate the API server refused (401) is no credential either.
  if (!current || now() >= current->not_after || client->machine.prefer_bootstrap()) return nullptr;
  auto conn = connection(*client);
  if (!conn || !conn->as_node) return nullptr;
  return effects.csr_api(conn->endpoint, conn->credentials);
}

NodeEvents::Open AgentDriver::node_api_opener() {
  return [this] { return node_api(); };
}

void AgentDriver::post_event(const std::string& type, const std::string& reason, const std::string& message,
                             const std::string& key) {
  // Messages carry outside text (condition messages, kubelet output): bounded, secrets redacted.
  node_events.record(NodeEvent{type, reason, outside_text(message, kMaxEventMessage), key}, now(),
                     node_api_opener());
}

void AgentDriver::saw_csr(CertificateRun& s, const api::Csr& csr) {
  const api::CsrCondition* c = csr.terminal_condition();
  if (c == nullptr || s.verdict_reported == csr.name) return;
  s.verdict_reported = csr.name;
  const bool denied = c->type == "Denied";
  const std::string kind(to_string(s.kind));
  // The condition's reason and message were escaped where they entered (api/types.cpp).
  post_event("Warning", denied ? "CertificateSigningRequestDenied" : "CertificateSigningRequestFailed",
             "kubelet " + kind + " certificate signing request " + csr.name +
                 (denied ? " denied" : " failed") + ": " +
                 (c->reason.empty() ? std::string("(no reason)") : c->reason) +
                 (c->message.empty() ? std::string() : ": " + c->message),
             kind + "/" + c->reason);
}

void AgentDriver::certificate_rejected(CertificateRun& s, const std::string& csr, const std::string& why) {
  const std::string kind(to_string(s.kind));
  post_event("Warning", "CertificateRejected",
             "kubelet " + kind + " certificate issued for " + csr + " rejected: " + why, kind);
}

void AgentDriver::check_expiring(CertificateRun& s) {
  const auto& current = s.machine.current();
  const auto& deadline = s.machine.persistent().deadline;
  if (!current || !deadline) return;
  const SysTime t = now();
  if (current->not_after - t >= kExpiringSoon || t < *deadline) return;
  // Renewal is due: warn once it failed, or once it has been waiting a while (a short-lived
  // certificate renewed at once is not worth a warning).
  const bool failing = s.machine.phase() == rotation::Phase::Backoff || s.machine.terminal_failure();
  if (!failing && t - *deadline < kRenewalOverdue) return;
  if (s.expiry_reported == current->not_after) return;
  s.expiry_reported = current->not_after;
  const std::string kind(to_string(s.kind));
  const auto left = std::chrono::duration_cast<std::chrono::minutes>(current->not_after - t);
  const std::string when = left.count() < 0 ? "expired at " + to_rfc3339(current->not_after)
                                            : "expires at " + to_rfc3339(current->not_after) + " (in " +
                                                  std::to_string(left.count() / 60) + " h " +
                                                  std::to_string(left.count() % 60) + " min)";
  log::warn("certificate expires soon and is not renewed yet",
            {{"cert", kind}, {"not_after", current->not_after}, {"rotation_deadline", *deadline}});
  post_event("Warning", "CertificateExpiringSoon",
             "kubelet " + kind + " certificate " + when + " and its renewal, due since " +
                 to_rfc3339(*deadline) + ", has not succeeded: " +
                 (s.machine.reason().empty() ? std::string("waiting") : s.machine.reason()),
             kind);
}

}  // namespace kcd::daemon
