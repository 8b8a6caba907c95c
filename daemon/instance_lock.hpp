// One instance per node: an exclusive lock on certDir/kubelet-certd.lock, held for the
// process lifetime (the kernel releases it on any exit, even SIGKILL). And one writer per file:
// OutputLocks lock every file an instance writes outside certDir (issue 13).
#pragma once

#include "base/expected.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace kcd::daemon {

class InstanceLock {
 public:
  explicit InstanceLock(const std::filesystem::path& dir) : path_(dir / "kubelet-certd.lock") {}
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

  // Held from now on; otherwise what is wrong and what to do (another instance, a planted link).
  Expected<void> acquire();

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// A lock per file written outside certDir (kubeconfig, kubeletConfig, clientCAFile,
// metricsTextfile): `<dir>/.<name>.kubelet-certd-lock` next to the file the path resolves to
// (its links followed), so two instances that name one file, also through different links,
// meet at one lock. The holder writes "pid=<pid> certDir=<dir>" into it; a second instance
// refuses to start naming the holder, the setting and the path they share. Held for the process
// lifetime, like InstanceLock.
class OutputLocks {
 public:
  struct Target {
    std::string key;  // the setting: "kubeconfig", ...
    std::filesystem::path path;
  };
  OutputLocks() = default;
  ~OutputLocks();
  OutputLocks(const OutputLocks&) = delete;
  OutputLocks& operator=(const OutputLocks&) = delete;

  // All held, or none and why (ErrorKind::Refused when another instance holds one).
  Expected<void> acquire(const std::vector<Target>& targets, const std::filesystem::path& cert_dir);
  // Where the lock of `path` lives.
  static std::filesystem::path lock_path(const std::filesystem::path& path);

 private:
  std::vector<int> fds_;
};

}  // namespace kcd::daemon
