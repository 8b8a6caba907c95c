#include "daemon/run.hpp"

#include "base/files.hpp"
#include "base/trace.hpp"
#include "daemon/instance_lock.hpp"
#include "daemon/settings_check.hpp"
#include "daemon/supervisor.hpp"

namespace kcd::daemon {

std::vector<rotation::CertKind> managed_kinds(const config::Settings& settings) {
  std::vector<rotation::CertKind> kinds = {rotation::CertKind::Client};
  if (settings.serving) kinds.push_back(rotation::CertKind::Serving);
  return kinds;
}

RunResult run(const config::Settings& settings, const RunOptions& options) {
  // Nothing is created or written in a folder another user could change.
  if (auto trusted = check_written_directories(settings, settings.patch_kubelet_config); !trusted)
    return RunResult{kExitError, trusted.error().format()};
  InstanceLock lock(settings.cert_dir);
  if (auto made = kcd::ensure_directory(settings.cert_dir, 0755); !made)
    return RunResult{kExitError, made.error().format()};
  // Once more now that certDir exists: it was created by us, not planted in between.
  if (auto trusted = check_private_directory(settings.cert_dir); !trusted)
    return RunResult{kExitError, "certDir: " + trusted.error().format()};
  if (auto held = lock.acquire(); !held) return RunResult{kExitError, held.error().format()};
  // One writer per file: the files written outside certDir are locked too.
  std::vector<OutputLocks::Target> targets;
  for (const Output& o : outputs_of(settings)) {
    const bool kubelet_file = o.key == "kubeletConfig" || o.key == "clientCAFile";
    if (!kubelet_file || settings.patch_kubelet_config) targets.push_back({o.key, o.path});
  }
  OutputLocks outputs;
  if (auto held = outputs.acquire(targets, settings.cert_dir); !held)
    return RunResult{kExitError, held.error().format()};
  trace::mark("locked");
  Supervisor supervisor(settings, options);
  return supervisor.run();
}

}  // namespace kcd::daemon
