// One instance per node: an exclusive lock on certDir/kubelet-certd.lock, held for the
// process lifetime (the kernel releases it on any exit, even SIGKILL).
#pragma once

#include "base/expected.hpp"

#include <filesystem>

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

}  // namespace kcd::daemon
