#include "daemon/exit_verdict.hpp"

#include "base/rfc3339.hpp"

namespace kcd::daemon {

using rotation::Condition;

namespace {

std::string name(const CertificateProgress& c) {
  return std::string(rotation::to_string(c.kind));
}

void append(std::string& line, const std::string& part) {
  line += (line.empty() ? "" : "; ") + part;
}

}  // namespace

bool finished(const CertificateProgress& c) {
  if (c.condition != Condition::Valid) return false;
  return !c.renewal_requested || c.installs > 0;
}

std::optional<Verdict> once_verdict(const std::vector<CertificateProgress>& certs) {
  bool all_finished = true;
  std::string summary;
  for (const auto& c : certs) {
    if (c.condition == Condition::Denied) return Verdict{kExitDenied, name(c) + ": " + c.last_error};
    if (c.condition == Condition::Error && c.fatal_error)
      return Verdict{kExitError, name(c) + ": " + c.last_error};
    if (!finished(c)) {
      all_finished = false;
      continue;
    }
    std::string line = name(c) + " certificate valid";
    if (!c.installed.empty()) line += ": " + c.installed.string();
    if (c.not_after) line += " (not after " + to_rfc3339(*c.not_after) + ")";
    append(summary, line);
  }
  if (!all_finished) return std::nullopt;
  return Verdict{kExitOk, summary};
}

Verdict timeout_verdict(const std::vector<CertificateProgress>& certs, std::chrono::milliseconds timeout) {
  bool all_awaiting = true;
  std::string why;
  for (const auto& c : certs) {
    if (finished(c)) continue;
    if (c.condition == Condition::AwaitingApproval || c.condition == Condition::AwaitingSigner) {
      append(why, name(c) + ": " + c.reason);
    } else {
      all_awaiting = false;
      append(why, name(c) + ": " + (c.last_error.empty() ? c.reason : c.last_error));
    }
  }
  const ExitCode code = all_awaiting && !why.empty() ? kExitPending : kExitError;
  return Verdict{code, "timed out after " + std::to_string(timeout.count() / 1000) + "s: " + why};
}

std::vector<CertificateProgress> renewal_progress(const StatusReply& now, const StatusReply& before,
                                                  const std::vector<rotation::CertKind>& requested) {
  auto find = [](const StatusReply& s, rotation::CertKind k) -> const CertificateReport* {
    for (const auto& c : s.certs) {
      if (c.kind == k) return &c;
    }
    return nullptr;
  };
  std::vector<CertificateProgress> out;
  for (rotation::CertKind k : requested) {
    CertificateProgress p;
    p.kind = k;
    p.renewal_requested = true;
    const CertificateReport* c = find(now, k);
    if (c == nullptr) {
      p.reason = "not reported by the daemon";
      out.push_back(std::move(p));
      continue;
    }
    const CertificateReport* was = find(before, k);
    p.condition = c->condition;
    p.installs = c->installs - (was ? was->installs : 0);
    p.reason = c->reason;
    p.last_error = c->last_error;
    out.push_back(std::move(p));
  }
  return out;
}

Verdict stop_verdict(bool once) {
  return once ? Verdict{kExitError, "interrupted"} : Verdict{kExitOk, "stopped by signal"};
}

}  // namespace kcd::daemon
