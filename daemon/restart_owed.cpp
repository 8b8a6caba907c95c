#include "daemon/restart_owed.hpp"

#include "base/files.hpp"

#include <system_error>

namespace kcd::daemon {

namespace fs = std::filesystem;

Expected<std::string> owe_kubelet_restart(const fs::path& cert_dir, std::string_view why, SysTime at) {
  const std::string record = std::string(why) + " at " + to_rfc3339(at, true) + "\n";
  if (auto written = write_file_atomic(cert_dir / kRestartOwedFileName, record, 0600); !written)
    return Unexpected(written.error());
  return record;
}

std::string owed_kubelet_restart(const fs::path& cert_dir) {
  const fs::path path = cert_dir / kRestartOwedFileName;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) return {};
  auto text = read_file(path, 4096);
  if (!text) return "unreadable record (" + text.error().message + ")";
  return text->empty() ? std::string("empty record") : *text;
}

void settle_kubelet_restart(const fs::path& cert_dir, const std::string& seen) {
  if (seen.empty() || owed_kubelet_restart(cert_dir) != seen) return;
  std::error_code ec;
  fs::remove(cert_dir / kRestartOwedFileName, ec);
}

}  // namespace kcd::daemon
