// A kubelet restart owed for a CA change. The kubelet reads its client CA file and kubelet.conf's
// CA data only when it starts, so a CA change is not done until the kubelet restarted. The debt
// is recorded before the change it is owed for (kubelet.conf's CA data by the cluster CA
// follower, the client CA file by the kubelet worker) and settled once the restart was done, or
// declined by `kubeletRestart: never`. A crash, a stop or a failed D-Bus call in between leaves
// it owed, and the next configuration pass (at the latest the next start) restarts the kubelet.
#pragma once

#include "base/expected.hpp"
#include "base/rfc3339.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace kcd::daemon {

inline constexpr std::string_view kRestartOwedFileName = "kubelet-restart-owed";

// Records the debt (durably, in certDir) with why and when; returns what was recorded.
Expected<std::string> owe_kubelet_restart(const std::filesystem::path& cert_dir, std::string_view why,
                                          SysTime at);

// What is owed ("" when nothing is). A record that cannot be read counts as owed: one restart
// too many is the safe side.
std::string owed_kubelet_restart(const std::filesystem::path& cert_dir);

// Settles the debt `seen` (what owed_kubelet_restart or owe_kubelet_restart returned); a newer
// one recorded meanwhile stays.
void settle_kubelet_restart(const std::filesystem::path& cert_dir, const std::string& seen);

}  // namespace kcd::daemon
