#include "daemon/instance_lock.hpp"

#include "base/files.hpp"
#include "base/outside_text.hpp"

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

OutputLocks::~OutputLocks() {
  for (int fd : fds_) ::close(fd);
}

std::filesystem::path OutputLocks::lock_path(const std::filesystem::path& path) {
  // Through links first, dangling ones too: a link to a file another instance has not written
  // yet names that file's lock (weakly_canonical alone stops at a dangling link).
  const auto target = kcd::write_through_target(path);
  const std::filesystem::path through = target ? *target : path;
  std::error_code ec;
  std::filesystem::path real = std::filesystem::weakly_canonical(through, ec);
  if (ec) real = through.lexically_normal();
  return real.parent_path() / ("." + real.filename().string() + ".kubelet-certd-lock");
}

Expected<void> OutputLocks::acquire(const std::vector<Target>& targets,
                                    const std::filesystem::path& cert_dir) {
  std::vector<int> held;
  auto give_up = [&held](Error e) {
    for (int fd : held) ::close(fd);
    return Unexpected(std::move(e));
  };
  for (const Target& t : targets) {
    const std::filesystem::path lock = lock_path(t.path);
    // The folder was checked as ours (check_written_directories); the file is written there anyway.
    if (auto made = kcd::ensure_directory(lock.parent_path(), 0755); !made) return give_up(made.error());
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      if (errno == ELOOP)
        return give_up(make_error(ErrorKind::Refused,
                                  lock.string() + " is a symbolic link; remove it (kubelet-certd creates "
                                                  "this file itself)"));
      return give_up(io_error("cannot open lock file", lock.string(), errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      std::string holder;
      if (err == EWOULDBLOCK) {
        char buf[512];
        const ssize_t n = ::pread(fd, buf, sizeof buf, 0);
        if (n > 0) holder = outside_text(std::string_view(buf, static_cast<std::size_t>(n)), 256);
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      }
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return give_up(make_error(
            ErrorKind::Refused, t.key + " " + t.path.string() + " is written by another kubelet-certd (" +
                                    (holder.empty() ? std::string("holder unknown") : holder) + ", holding " +
                                    lock.string() +
                                    "); two instances must not write one file: give this one its own " +
                                    t.key + " or stop the other"));
      }
      return give_up(io_error("cannot lock", lock.string(), err));
    }
    const std::string who = "pid=" + std::to_string(::getpid()) + " certDir=" + cert_dir.string() + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, who.data(), who.size(), 0) < 0) {
      // The lock is held; only the holder's description for a contender is missing.
    }
    held.push_back(fd);
  }
  for (int fd : held) fds_.push_back(fd);
  return {};
}

}  // namespace kcd::daemon
