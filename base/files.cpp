#include "base/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <random>

namespace kcd {

namespace fs = std::filesystem;

namespace {

std::string describe(std::string_view operation, const fs::path& path, int err) {
  std::string msg(operation);
  msg += ' ';
  msg += path.string();
  msg += ": ";
  msg += std::strerror(err);
  return msg;
}

// A name for a temp file next to `path`, unique enough for concurrent writers.
fs::path temp_name(const fs::path& path) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, ".tmp-%08llx", static_cast<unsigned long long>(rng() & 0xffffffffULL));
  fs::path tmp = path;
  tmp += suffix;
  // Hidden (leading dot) so a glob of the store never picks up a half-written file.
  std::string hidden(1, '.');  // not "." + name: GCC 12 -O3 warns falsely (-Wrestrict) on that
  hidden += tmp.filename().string();
  return tmp.parent_path() / hidden;
}

fs::path parent_or_dot(const fs::path& p) {
  fs::path parent = p.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace

FileError::FileError(std::string_view operation, const fs::path& path, int err)
    : std::runtime_error(describe(operation, path, err)), path_(path), code_(err) {}

void fsync_directory(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) throw FileError("open directory", dir, errno);
  if (::fsync(fd.get()) != 0) throw FileError("fsync directory", dir, errno);
}

void write_file_atomic(const fs::path& path, std::string_view content, mode_t mode) {
  const fs::path tmp = temp_name(path);
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) throw FileError("create temporary file for", path, errno);
  auto fail = [&](std::string_view op, int err) {
    ::unlink(tmp.c_str());
    throw FileError(op, path, err);
  };
  if (::fchmod(fd.get(), mode) != 0) fail("chmod", errno);
  std::size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", errno);
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) fail("fsync", errno);
  if (::close(fd.release()) != 0) fail("close", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno);
  fsync_directory(parent_or_dot(path));
}

void replace_symlink_atomic(const fs::path& link, const fs::path& target) {
  const fs::path tmp = temp_name(link);
  if (::symlink(target.c_str(), tmp.c_str()) != 0) throw FileError("symlink", tmp, errno);
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw FileError("rename", link, err);
  }
  fsync_directory(parent_or_dot(link));
}

void remove_file_durable(const fs::path& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return;
    throw FileError("remove", path, errno);
  }
  fsync_directory(parent_or_dot(path));
}

std::string read_file(const fs::path& path, std::size_t limit) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw FileError("open", path, errno);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw FileError("read", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > limit) throw FileError("read", path, EFBIG);
  }
  return out;
}

void ensure_directory(const fs::path& dir, mode_t mode) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return;
  fs::path parent = dir.parent_path();
  if (!parent.empty() && parent != dir) ensure_directory(parent, 0755);
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) throw FileError("mkdir", dir, errno);
}

std::vector<fs::path> remove_stale_temp_files(const fs::path& dir, std::string_view prefix) {
  std::vector<fs::path> removed;
  std::error_code ec;
  std::string lead(1, '.');
  lead += prefix;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(lead, 0) == 0 && name.find(".tmp-") != std::string::npos &&
        ::unlink(entry.path().c_str()) == 0) {
      removed.push_back(entry.path());
    }
  }
  return removed;
}

void crash_point(std::string_view step) {
  static const char* target = std::getenv("KCD_CRASH_AT");
  if (target != nullptr && step == target) ::kill(::getpid(), SIGKILL);
}

}  // namespace kcd
