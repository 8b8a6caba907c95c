#include "daemon/status.hpp"
#include "daemon/restart_owed.hpp"

#include "config/kubeconfig.hpp"
#include "base/outside_text.hpp"
#include "base/rfc3339.hpp"
#include "kubelet/change_state.hpp"
#include "base/files.hpp"
#include "rotation/store/state_file.hpp"
#include "rotation/store/store.hpp"

#include <cerrno>
#include <algorithm>
#include <ctime>
#include <sstream>

namespace kcd::daemon {

namespace fs = std::filesystem;
using rotation::CertKind;

namespace {

std::string human_date(SysTime t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%b %d, %Y %H:%M UTC", &tm);
  return buf;
}

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

CertStatus from_store(const config::Settings& settings, CertKind kind, const rotation::State& state) {
  CertStatus s;
  s.name = std::string(to_string(kind));
  rotation::Store store(settings.cert_dir, kind);
  s.path = store.current_path();
  auto current = store.load_current();
  if (!current) {
    s.problem = current.error().format();
  } else if (!current->has_value()) {
    s.problem = "missing";
  } else {
    s.info = (**current).info;
  }
  const rotation::CertState& cs = state.of(kind);
  if (s.info && cs.deadline && cs.deadline_cert_sha256 == s.info->sha256_fingerprint)
    s.rotation_deadline = cs.deadline;
  if (cs.pending) {
    s.pending_csr = cs.pending->name;
    if (cs.pending->filed) s.pending_since = cs.pending->filed_at;
  }
  s.last_error = cs.last_error;
  return s;
}

CertStatus ca_status(const config::Settings& settings) {
  CertStatus s;
  s.name = "ca";
  std::string pem;
  std::error_code ec;
  if (fs::exists(settings.client_ca_file, ec)) {
    s.path = settings.client_ca_file;
    if (auto read = kcd::read_file(settings.client_ca_file, 1 << 20)) {
      pem = std::move(*read);
    } else {
      s.problem = read.error().format();
    }
  } else {
    for (const auto& kc_path : {settings.kubeconfig, settings.bootstrap_kubeconfig}) {
      if (!fs::exists(kc_path, ec)) continue;
      auto kc = config::load_kubeconfig(kc_path);
      if (!kc) continue;
      pem = kc->ca_pem;
      s.path = kc->ca_file ? *kc->ca_file : fs::path(kc_path.string() + " (certificate-authority-data)");
      break;
    }
    if (pem.empty() && s.problem.empty()) s.problem = "missing";
  }
  if (!pem.empty()) {
    auto certs = rotation::parse_certificates_pem(pem, s.path.string(), rotation::kMaxBundleCertificates);
    if (certs) {
      s.info = rotation::inspect_certificate(certs->front().get());
    } else {
      s.problem = certs.error().format();
    }
  }
  return s;
}

}  // namespace

std::string short_duration(std::chrono::seconds d) {
  using namespace std::chrono;
  if (d.count() < 0) return "expired";
  const long long s = d.count();
  if (s >= 2LL * 365 * 86400) return std::to_string(s / (365 * 86400)) + "y";
  if (s >= 2LL * 86400) return std::to_string(s / 86400) + "d";
  if (s >= 2LL * 3600) return std::to_string(s / 3600) + "h";
  if (s >= 2LL * 60) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

std::vector<CertStatus> collect_status(const config::Settings& settings,
                                       const std::optional<StatusReply>& daemon) {
  // Read-only: a corrupt state file is left for the daemon to set aside.
  // Unreadable, missing or corrupt: shown as no state.
  rotation::State state;
  const auto path = settings.cert_dir / rotation::kStateFileName;
  if (auto text = kcd::read_private_file(path, 1 << 20)) {
    if (auto parsed = rotation::parse_state(*text, path.string())) state = *parsed;
  }
  std::vector<CertStatus> all;
  all.push_back(from_store(settings, CertKind::Client, state));
  CertStatus serving = from_store(settings, CertKind::Serving, state);
  serving.required = settings.serving;
  all.push_back(serving);
  all.push_back(ca_status(settings));
  if (daemon) {
    for (const CertificateReport& c : daemon->certs) {
      for (auto& s : all) {
        if (s.name != rotation::to_string(c.kind)) continue;
        s.daemon_condition = c.condition;
        if (c.pending_csr) s.pending_csr = *c.pending_csr;
        if (!c.last_error.empty()) s.last_error = c.last_error;
        if (c.rotation_deadline) s.rotation_deadline = c.rotation_deadline;
      }
    }
  }
  return all;
}

std::string status_word(const CertStatus& s, SysTime now) {
  if (!s.info) return s.problem == "missing" ? "missing" : "unusable";
  if (s.info->not_after <= now) return "expired";
  if (s.daemon_condition && *s.daemon_condition != rotation::Condition::Valid)
    return std::string(to_string(*s.daemon_condition));
  return "valid";
}

int status_exit_code(const std::vector<CertStatus>& all, SysTime now) {
  for (const auto& s : all) {
    if (!s.required) continue;
    const std::string st = status_word(s, now);
    if (st == "missing" || st == "unusable" || st == "expired") return 1;
  }
  return 0;
}

std::string render_status_table(const std::vector<CertStatus>& all, SysTime now) {
  // A certificate's names, a CSR name and an error can carry text from outside (a CA, an API
  // server): escaped so it cannot move the terminal's cursor or fake a line of this table.
  const auto shown = [](std::string_view text) { return outside_text(text, 4096); };
  std::vector<std::vector<std::string>> rows = {
      {"CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "ROTATION DEADLINE", "PENDING CSR", "STATUS"}};
  for (const auto& s : all) {
    if (!s.required && !s.info) continue;
    rows.push_back(
        {s.name, s.info ? human_date(s.info->not_after) : "<none>",
         s.info ? short_duration(std::chrono::duration_cast<std::chrono::seconds>(s.info->not_after - now))
                : "<none>",
         s.rotation_deadline ? human_date(*s.rotation_deadline) : "<none>",
         s.pending_csr.empty() ? "<none>" : shown(s.pending_csr), status_word(s, now)});
  }
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::ostringstream out;
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      out << r[i];
      if (i + 1 < r.size()) out << std::string(width[i] - r[i].size() + 3, ' ');
    }
    out << "\n";
  }
  for (const auto& s : all) {
    if (!s.required && !s.info) continue;
    out << "\n" << s.name << ": " << s.path.string() << "\n";
    if (!s.info) {
      out << "  problem       " << shown(s.problem) << "\n";
    } else {
      const auto& i = *s.info;
      std::string subject = "CN=" + i.common_name;
      for (const auto& o : i.organizations) subject += ", O=" + o;
      out << "  subject       " << shown(subject) << "\n";
      std::vector<std::string> sans;
      for (const auto& d : i.dns_names) sans.push_back("DNS:" + d);
      for (const auto& ip : i.ip_addresses) sans.push_back("IP:" + ip);
      out << "  SANs          " << (sans.empty() ? "<none>" : shown(join(sans))) << "\n";
      out << "  issuer        " << shown(i.issuer) << "\n";
      out << "  serial        " << i.serial << "\n";
      out << "  key           " << i.key_algorithm << "\n";
      out << "  valid         " << to_rfc3339(i.not_before) << " .. " << to_rfc3339(i.not_after) << "\n";
    }
    if (s.pending_since) {
      out << "  pending CSR   " << shown(s.pending_csr) << " (filed "
          << short_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *s.pending_since))
          << " ago)\n";
    }
    if (!s.last_error.empty()) out << "  last error    " << shown(s.last_error) << "\n";
  }
  return out.str();
}

nlohmann::json render_status_json(const std::vector<CertStatus>& all, SysTime now) {
  nlohmann::json certs = nlohmann::json::array();
  for (const auto& s : all) {
    nlohmann::json j = {{"name", s.name},
                        {"path", s.path.string()},
                        {"status", status_word(s, now)},
                        {"required", s.required}};
    if (s.info) {
      const auto& i = *s.info;
      j["commonName"] = i.common_name;
      j["organizations"] = i.organizations;
      j["dnsNames"] = i.dns_names;
      j["ipAddresses"] = i.ip_addresses;
      j["issuer"] = i.issuer;
      j["serial"] = i.serial;
      j["keyAlgorithm"] = i.key_algorithm;
      j["notBefore"] = to_rfc3339(i.not_before);
      j["notAfter"] = to_rfc3339(i.not_after);
      j["residualSeconds"] = std::chrono::duration_cast<std::chrono::seconds>(i.not_after - now).count();
    } else {
      j["problem"] = s.problem;
    }
    j["rotationDeadline"] =
        s.rotation_deadline ? nlohmann::json(to_rfc3339(*s.rotation_deadline)) : nlohmann::json(nullptr);
    j["pendingCSR"] = s.pending_csr.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.pending_csr);
    if (s.pending_since)
      j["pendingCSRAgeSeconds"] =
          std::chrono::duration_cast<std::chrono::seconds>(now - *s.pending_since).count();
    j["lastError"] = s.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.last_error);
    certs.push_back(j);
  }
  return {{"certificates", certs}};
}

KubeletStatus collect_kubelet_status(const config::Settings& settings,
                                     const std::optional<StatusReply>& daemon) {
  KubeletStatus k;
  k.config = settings.kubelet_config;
  const auto path = settings.cert_dir / kubelet::kChangeStateFileName;
  // Read-only: a corrupt record is left for the daemon to set aside.
  auto text = kcd::read_private_file(path, 1 << 20);
  if (!text && text.error().code != ENOENT) k.problem = text.error().format();
  if (text) {
    if (auto parsed = kubelet::parse_change_state(*text, path.string())) {
      k.kubelet = parsed->kubelet;
      k.rollbacks = parsed->rollbacks;
      if (parsed->refused) {
        k.refused = parsed->refused->keys;
        k.refused_at = parsed->refused->at;
      }
      if (parsed->pending) {
        k.pending = parsed->pending->config + " (" + join(parsed->pending->keys) + ") since " +
                    to_rfc3339(parsed->pending->since);
      }
    } else {
      k.problem = parsed.error().format();
    }
  }
  k.restart_owed = owed_kubelet_restart(settings.cert_dir);
  // One debt per line: the first, and how many more (one restart pays them all).
  if (const auto end = k.restart_owed.find('\n'); end != std::string::npos) {
    const auto more =
        std::count(k.restart_owed.begin() + static_cast<std::ptrdiff_t>(end) + 1, k.restart_owed.end(), '\n');
    k.restart_owed.resize(end);
    if (more > 0) k.restart_owed += " (and " + std::to_string(more) + " more)";
  }
  if (daemon) {
    if (!daemon->kubelet.kubelet.empty()) k.kubelet = daemon->kubelet.kubelet;
    for (const HeldBackReport& h : daemon->kubelet.held_back) k.held_back.emplace_back(h.key, h.reason);
  }
  return k;
}

std::string render_kubelet_status(const KubeletStatus& k) {
  std::ostringstream out;
  out << "\nkubelet config: " << k.config.string() << "\n";
  out << "  written for   " << (k.kubelet.empty() ? std::string("<not patched yet>") : k.kubelet) << "\n";
  for (const auto& [key, why] : k.held_back) out << "  held back     " << key << ": " << why << "\n";
  for (const auto& [key, why] : k.refused) out << "  refused       " << key << ": " << why << "\n";
  out << "  rollbacks     " << k.rollbacks << "\n";
  if (!k.pending.empty()) out << "  unconfirmed   " << k.pending << "\n";
  if (!k.restart_owed.empty()) out << "  restart owed  " << k.restart_owed << "\n";
  if (!k.problem.empty()) out << "  problem       " << k.problem << "\n";
  return out.str();
}

nlohmann::json kubelet_status_json(const KubeletStatus& k) {
  nlohmann::json held = nlohmann::json::array();
  for (const auto& [key, why] : k.held_back) held.push_back({{"key", key}, {"reason", why}});
  nlohmann::json j = {{"config", k.config.string()},
                      {"writtenFor", k.kubelet},
                      {"heldBack", held},
                      {"refused", k.refused},
                      {"rollbacks", k.rollbacks}};
  j["refusedAt"] = k.refused_at ? nlohmann::json(to_rfc3339(*k.refused_at)) : nlohmann::json(nullptr);
  j["unconfirmedChange"] = k.pending.empty() ? nlohmann::json(nullptr) : nlohmann::json(k.pending);
  j["restartOwed"] = k.restart_owed.empty() ? nlohmann::json(nullptr) : nlohmann::json(k.restart_owed);
  if (!k.problem.empty()) j["problem"] = k.problem;
  return j;
}

}  // namespace kcd::daemon
