#include "daemon/restart_owed.hpp"

#include "base/files.hpp"

#include <mutex>
#include <system_error>
#include <vector>

namespace kcd::daemon {

namespace fs = std::filesystem;

namespace {

// One lock for the record in this process (the instance lock keeps other daemons out).
std::mutex& record_lock() {
  static std::mutex mu;
  return mu;
}

std::string read_record(const fs::path& cert_dir) {
  const fs::path path = cert_dir / kRestartOwedFileName;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) return {};
  auto text = read_file(path, kMaxRestartOwedBytes);
  if (!text) return "unreadable record (" + text.error().message + ")\n";
  if (text->empty()) return "empty record\n";
  if (text->back() != '\n') *text += '\n';
  return *text;
}

// The debts of a record, one per line (a line end added to the last one if it had none).
std::vector<std::string> debts_of(std::string_view record) {
  std::vector<std::string> out;
  while (!record.empty()) {
    const std::size_t end = record.find('\n');
    const std::string_view line = record.substr(0, end);
    if (!line.empty()) out.emplace_back(std::string(line) + "\n");
    if (end == std::string_view::npos) break;
    record.remove_prefix(end + 1);
  }
  return out;
}

}  // namespace

Expected<std::string> owe_kubelet_restart(const fs::path& cert_dir, std::string_view why, SysTime at,
                                          const std::function<Expected<void>()>& change) {
  std::lock_guard lock(record_lock());
  const std::string debt = std::string(why) + " at " + to_rfc3339(at, true) + "\n";
  std::string record = read_record(cert_dir) + debt;
  if (record.size() > kMaxRestartOwedBytes) {
    // Every debt is paid by the same restart: folded into one line, none is lost.
    record = "several CA changes, the last: " + debt;
    if (record.size() > kMaxRestartOwedBytes) record = "several CA changes at " + to_rfc3339(at, true) + "\n";
  }
  if (auto written = write_file_atomic(cert_dir / kRestartOwedFileName, record, 0600); !written)
    return Unexpected(written.error());
  if (change) {
    if (auto made = change(); !made) return Unexpected(made.error());
  }
  return record;
}

std::string owed_kubelet_restart(const fs::path& cert_dir) {
  std::lock_guard lock(record_lock());
  return read_record(cert_dir);
}

void settle_kubelet_restart(const fs::path& cert_dir, const std::string& seen) {
  if (seen.empty()) return;
  std::lock_guard lock(record_lock());
  std::vector<std::string> left = debts_of(read_record(cert_dir));
  const std::size_t before = left.size();
  for (const std::string& paid : debts_of(seen)) {
    for (auto it = left.begin(); it != left.end(); ++it) {
      if (*it == paid) {
        left.erase(it);
        break;
      }
    }
  }
  // Nothing this restart paid is in the record (it changed, or could not be read): left as it is.
  if (left.size() == before) return;
  const fs::path path = cert_dir / kRestartOwedFileName;
  if (left.empty()) {
    std::error_code ec;
    fs::remove(path, ec);
    return;
  }
  std::string rest;
  for (const std::string& debt : left) rest += debt;
  // Not written: the record stays as it was, with the paid debts in it (one restart too many).
  (void)write_file_atomic(path, rest, 0600);
}

}  // namespace kcd::daemon
