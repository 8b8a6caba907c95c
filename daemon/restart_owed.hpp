// A kubelet restart owed for a CA change. The kubelet reads its client CA file and kubelet.conf's
// CA data only when it starts, so a CA change is not done until the kubelet restarted. The debt
// is recorded before the change it is owed for (kubelet.conf's CA data by the cluster CA
// follower, the client CA file by the kubelet worker) and settled once the restart was done, or
// declined by `kubeletRestart: never`. A crash, a stop or a failed D-Bus call in between leaves
// it owed, and the next configuration pass (at the latest the next start) restarts the kubelet.
//
// The record is a list, one line per debt: a debt recorded while another is owed is added to it,
// and settling removes only the debts a restart paid. Every read and write of the record, and a
// change made with `owe_kubelet_restart`'s `change`, hold one lock: a reader never sees a debt
// whose change is not made yet, so a restart that started after the read pays every debt it read.
#pragma once

#include "base/expected.hpp"
#include "base/rfc3339.hpp"

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace kcd::daemon {

inline constexpr std::string_view kRestartOwedFileName = "kubelet-restart-owed";
// The record's size limit. Past it, the debts are folded into one line: one restart pays them all.
inline constexpr std::size_t kMaxRestartOwedBytes = 4096;

// Adds the debt (why and when) to the record, durably, in certDir; then makes `change` (if any)
// before any reader can see the debt. Returns the whole record as it stands: what a restart from
// now on pays. The debt stays recorded when `change` fails (one restart too many is the safe side).
Expected<std::string> owe_kubelet_restart(const std::filesystem::path& cert_dir, std::string_view why,
                                          SysTime at, const std::function<Expected<void>()>& change = {});

// What is owed, one debt per line ("" when nothing is). A record that cannot be read counts as
// owed: one restart too many is the safe side.
std::string owed_kubelet_restart(const std::filesystem::path& cert_dir);

// Settles the debts in `seen` (what owed_kubelet_restart or owe_kubelet_restart returned before
// the restart); debts recorded meanwhile stay.
void settle_kubelet_restart(const std::filesystem::path& cert_dir, const std::string& seen);

}  // namespace kcd::daemon
