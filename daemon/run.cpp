#include "daemon/run.hpp"

#include "base/files.hpp"
#include "daemon/instance_lock.hpp"
#include "daemon/supervisor.hpp"

namespace kcd::daemon {

std::vector<rotation::CertKind> managed_kinds(const config::Settings& settings) {
  std::vector<rotation::CertKind> kinds = {rotation::CertKind::Client};
  if (settings.serving) kinds.push_back(rotation::CertKind::Serving);
  return kinds;
}

RunResult run(const config::Settings& settings, const RunOptions& options) {
  InstanceLock lock(settings.cert_dir);
  if (auto made = kcd::ensure_directory(settings.cert_dir, 0755); !made)
    return RunResult{kExitError, made.error().format()};
  if (auto held = lock.acquire(); !held) return RunResult{kExitError, held.error().format()};
  Supervisor supervisor(settings, options);
  return supervisor.run();
}

}  // namespace kcd::daemon
