#include "base/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <random>

namespace kcd {

namespace fs = std::filesystem;

namespace {

Unexpected<Error> fail(std::string_view operation, const fs::path& path, int err) {
  return Unexpected(io_error(operation, path.string(), err));
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

Expected<void> fsync_directory(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return fail("open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return fail("fsync directory", dir, errno);
  return {};
}

Expected<void> write_file_atomic(const fs::path& path, std::string_view content, mode_t mode, Sync sync) {
  const fs::path tmp = temp_name(path);
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) return fail("create temporary file for", path, errno);
  auto failed = [&](std::string_view op, int err) {
    ::unlink(tmp.c_str());
    return fail(op, path, err);
  };
  if (::fchmod(fd.get(), mode) != 0) return failed("chmod", errno);
  std::size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failed("write", errno);
    }
    off += static_cast<std::size_t>(n);
  }
  if (sync != Sync::None && ::fsync(fd.get()) != 0) return failed("fsync", errno);
  if (::close(fd.release()) != 0) return failed("close", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed("rename", errno);
  if (sync != Sync::Durable) return {};
  return fsync_directory(parent_or_dot(path));
}

Expected<fs::path> write_through_target(const fs::path& path) {
  fs::path p = path;
  for (int hops = 0;; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) return p;  // not there (yet): created here
      return fail("inspect", p, errno);
    }
    if (!S_ISLNK(st.st_mode)) return p;
    if (hops == 40) return fail("follow the links of", path, ELOOP);
    std::array<char, 4096> buf{};
    const ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size() - 1);
    if (n < 0) return fail("read the link", p, errno);
    const fs::path target(std::string(buf.data(), static_cast<std::size_t>(n)));
    p = (target.is_absolute() ? target : p.parent_path() / target).lexically_normal();
  }
}

Expected<void> write_file_through(const fs::path& path, std::string_view content, mode_t mode) {
  auto target = write_through_target(path);
  if (!target) return Unexpected(target.error());
  if (*target != path) {
    const fs::path dir = parent_or_dot(*target);
    if (fs::absolute(dir).lexically_normal() != fs::absolute(parent_or_dot(path)).lexically_normal()) {
      if (auto ours = check_private_directory(dir); !ours) {
        Error e = ours.error();
        e.message = path.string() + " is a link to " + target->string() +
                    ", in a folder that is not ours to write: " + e.message;
        return Unexpected(std::move(e));
      }
    }
  }
  return write_file_atomic(*target, content, mode);
}

Expected<void> replace_symlink_atomic(const fs::path& link, const fs::path& target) {
  const fs::path tmp = temp_name(link);
  if (::symlink(target.c_str(), tmp.c_str()) != 0) return fail("symlink", tmp, errno);
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail("rename", link, err);
  }
  return fsync_directory(parent_or_dot(link));
}

Expected<void> remove_file(const fs::path& path, Sync sync) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return {};
    return fail("remove", path, errno);
  }
  if (sync == Sync::None) return {};
  return fsync_directory(parent_or_dot(path));
}

namespace {

Expected<std::string> read_bounded(const fs::path& path, std::size_t limit, bool private_file) {
  const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (private_file ? O_NOFOLLOW : 0);
  Fd fd(::open(path.c_str(), flags));
  if (fd.get() < 0) {
    if (private_file && errno == ELOOP) {
      Error e = make_error(ErrorKind::Refused, "read " + path.string() +
                                                   ": is a symlink; kubelet-certd never follows a link "
                                                   "on its own private files (remove it)");
      e.code = ELOOP;
      return Unexpected(std::move(e));
    }
    return fail("open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail("stat", path, errno);
  if (private_file && S_ISREG(st.st_mode) && (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0)) {
    Error e = make_error(
        ErrorKind::Refused,
        "read " + path.string() + ": owned by uid " + std::to_string(st.st_uid) + " with mode " +
            [&] {
              char m[8];
              std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(st.st_mode & 07777));
              return std::string(m);
            }() +
            "; a private file must be ours (uid " + std::to_string(::geteuid()) +
            ") and closed to group and others: it may have been planted, so it is not used");
    e.code = EPERM;
    return Unexpected(std::move(e));
  }
  if (!S_ISREG(st.st_mode)) {
    Error e = make_error(ErrorKind::Refused, "read " + path.string() +
                                                 ": not a regular file (a FIFO, device, socket or "
                                                 "directory is never read); point the setting at a file");
    e.code = EINVAL;
    return Unexpected(std::move(e));
  }
  auto too_big = [&] {
    Error e =
        make_error(ErrorKind::Refused, "read " + path.string() + ": larger than " + std::to_string(limit) +
                                           " bytes, the most this file may hold");
    e.code = EFBIG;
    return Unexpected(std::move(e));
  };
  if (static_cast<std::uintmax_t>(st.st_size) > limit) return too_big();
  std::string out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("read", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > limit) return too_big();
  }
  return out;
}

}  // namespace

Expected<std::string> read_file(const fs::path& path, std::size_t limit) {
  return read_bounded(path, limit, false);
}

Expected<std::string> read_private_file(const fs::path& path, std::size_t limit) {
  return read_bounded(path, limit, true);
}

namespace {

std::string octal_mode(mode_t mode) {
  char m[8];
  std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(mode & 07777));
  return m;
}

// One directory on the way: who may change what is in it.
Expected<void> check_one_directory(const fs::path& dir, const fs::path& asked, bool is_target) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return fail("stat", dir, errno);
  const uid_t me = ::geteuid();
  const std::string which = is_target ? dir.string() : dir.string() + " (a parent of " + asked.string() + ")";
  auto refuse = [&](std::string why, std::string fix) {
    Error e = make_error(ErrorKind::Refused,
                         which + ": " + why +
                             ", so another user could plant or swap files there that kubelet-certd would "
                             "trust (a pending key, a link on one of its names); fix: " +
                             fix);
    e.code = EPERM;
    return Unexpected(std::move(e));
  };
  if (!S_ISDIR(st.st_mode))
    return Unexpected(
        make_error(ErrorKind::Refused, which + ": not a directory; point the setting at a directory"));
  if (st.st_uid != 0 && st.st_uid != me) {
    return refuse("owned by uid " + std::to_string(st.st_uid) + " (not root" +
                      (me != 0 ? " or uid " + std::to_string(me) : std::string()) + ")",
                  "chown root " + dir.string());
  }
  const bool sticky = (st.st_mode & S_ISVTX) != 0;
  if ((st.st_mode & 022) != 0 && (is_target || !sticky)) {
    return refuse(std::string("writable by ") + ((st.st_mode & 002) != 0 ? "others" : "its group") +
                      " (mode " + octal_mode(st.st_mode) + ")",
                  "chmod go-w " + dir.string());
  }
  return {};
}

// `dir` and every parent of it up to /; `dir` itself is held to the stricter rule when it is
// the directory asked about (not a parent standing in for one that does not exist yet).
Expected<void> check_directory_chain(const fs::path& dir, const fs::path& asked, bool dir_is_target) {
  bool first = true;
  for (fs::path p = dir;; p = p.parent_path()) {
    if (auto ok = check_one_directory(p, asked, first && dir_is_target); !ok) return ok;
    first = false;
    if (!p.has_relative_path()) break;  // reached /
  }
  return {};
}

}  // namespace

Expected<void> check_private_directory(const fs::path& dir) {
  std::error_code ec;
  fs::path asked = fs::absolute(dir, ec).lexically_normal();
  if (ec) return fail("resolve", dir, ec.value());
  if (asked.filename().empty() && asked.has_relative_path())
    asked = asked.parent_path();  // "/a/b/" -> "/a/b"
  // The nearest part that exists: what is missing we create ourselves (mode 0755).
  fs::path existing = asked;
  while (!fs::exists(existing, ec) && existing.has_relative_path()) existing = existing.parent_path();
  const bool is_target = existing == asked;
  if (auto ok = check_directory_chain(existing, asked, is_target); !ok) return ok;
  const fs::path real = fs::canonical(existing, ec);
  if (ec) return fail("resolve", existing, ec.value());
  if (real != existing) return check_directory_chain(real, asked, is_target);
  return {};
}

Expected<void> ensure_directory(const fs::path& dir, mode_t mode) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  fs::path parent = dir.parent_path();
  if (!parent.empty() && parent != dir) {
    if (auto made = ensure_directory(parent, 0755); !made) return made;
  }
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) return fail("mkdir", dir, errno);
  return {};
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
