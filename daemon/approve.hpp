// `kubelet-certd approve`: the approver process. Wires the settings, its kubeconfig, the
// metrics endpoint, signals and systemd's notify protocol around daemon::Approver.
#pragma once

#include "config/kubeconfig.hpp"
#include "config/settings.hpp"
#include "daemon/api/types.hpp"

#include <chrono>
#include <string>

namespace kcd::daemon {

// The approver's identity from its kubeconfig: a bearer token (a ServiceAccount token, read
// again from tokenFile on every reload) or a client certificate. An error names the file and
// says how to mint the identity.
Expected<std::pair<api::Endpoint, api::Credentials>> approver_connection(
    const std::filesystem::path& kubeconfig);

// "<name>_<random UUID>": unique per process, as client-go's holders are, so two processes
// started with one name never both believe they hold the Lease.
std::string approver_holder_identity(const std::string& name);

struct ApproveOptions {
  // Shorter timings for tests (hidden flags): lease duration, renew deadline, retry period.
  std::optional<std::chrono::seconds> lease_duration, renew_deadline, retry_period;
};

// Runs until SIGTERM/SIGINT. 0 after a stop, 1 when it cannot start (kubeconfig unusable,
// metrics address taken), 2 for invalid settings (reported by the caller).
int run_approver(const config::Settings& settings, const ApproveOptions& options);

}  // namespace kcd::daemon
