// `kubelet-certd status`: what every certificate is and when it will rotate, from the files
// (works without a daemon) merged with what a running daemon reports.
#pragma once

#include "config/settings.hpp"
#include "daemon/control_protocol.hpp"
#include "rotation/certificate.hpp"
#include "rotation/lifecycle.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kcd::daemon {

using SysTime = std::chrono::system_clock::time_point;

struct CertStatus {
  std::string name;            // client, serving, ca
  std::filesystem::path path;  // what was read (for the CA maybe "<kubeconfig> (embedded)")
  std::optional<rotation::CertInfo> info;
  std::string problem;  // missing / unreadable / mismatched, when there is no info
  std::optional<SysTime> rotation_deadline;
  std::string pending_csr;
  std::optional<SysTime> pending_since;
  std::string last_error;
  std::optional<rotation::Condition> daemon_condition;  // what a running daemon reports (none without one)
  bool required = true;                                 // counts for the exit code
};

// Reads the store, the state file and the CA; `daemon` is the control socket's status reply.
std::vector<CertStatus> collect_status(const config::Settings& settings,
                                       const std::optional<StatusReply>& daemon);

// "valid", "expired", "missing", "unusable", or the daemon's condition when it is not valid
// ("awaiting approval", ...); what the STATUS column and the JSON say.
std::string status_word(const CertStatus& s, SysTime now);
// Non-zero when a required certificate is missing or expired.
int status_exit_code(const std::vector<CertStatus>& all, SysTime now);

// kubeadm `certs check-expiration` style: a summary table, then each certificate's details.
std::string render_status_table(const std::vector<CertStatus>& all, SysTime now);
nlohmann::json render_status_json(const std::vector<CertStatus>& all, SysTime now);

// What kubelet-certd did to the kubelet's config file: the kubelet it was written for, what is
// held back and why, what was refused after a rollback. From the change record in certDir and,
// when a daemon runs, its live view.
struct KubeletStatus {
  std::string kubelet;  // "v1.24.17 (running kubelet (pid 812, ...))"
  std::filesystem::path config;
  long rollbacks = 0;
  std::vector<std::pair<std::string, std::string>> held_back;  // key, why
  std::map<std::string, std::string> refused;                  // key, why (after a rollback)
  std::optional<SysTime> refused_at;
  std::string pending;       // a change not yet confirmed ("" when none)
  std::string restart_owed;  // a CA change's kubelet restart not done yet (daemon/restart_owed)
  std::string problem;       // the record could not be read
};
KubeletStatus collect_kubelet_status(const config::Settings& settings,
                                     const std::optional<StatusReply>& daemon);
std::string render_kubelet_status(const KubeletStatus& k);
nlohmann::json kubelet_status_json(const KubeletStatus& k);

// "364d", "23h", "45m", "30s" (kubeadm's short human durations); "expired" when negative.
std::string short_duration(std::chrono::seconds d);

}  // namespace kcd::daemon
