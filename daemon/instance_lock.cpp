#include "daemon/instance_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

namespace kcd::daemon {

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) ::close(fd_);
}

Expected<void> InstanceLock::acquire() {
  // O_NOFOLLOW: a symlink planted on our name must not make root create a file elsewhere.
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) {
    if (errno == ELOOP) {
      return Unexpected(make_error(
          ErrorKind::Refused,
          path_.string() + " is a symbolic link; remove it (kubelet-certd creates this file itself)"));
    }
    return Unexpected(io_error("cannot open lock file", path_.string(), errno));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Unexpected(make_error(
          ErrorKind::Refused,
          "another kubelet-certd is already running for " + path_.parent_path().string() + " (it holds " +
              path_.string() +
              "); stop it first (systemctl stop kubelet-certd) or talk to it (kubelet-certd renew)"));
    }
    return Unexpected(io_error("cannot lock", path_.string(), errno));
  }
  return {};
}

}  // namespace kcd::daemon
