// The one place that writes files that matter: temp file + fsync + rename + directory fsync,
// and the one-step symlink swap. A failure leaves the previous file untouched.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
#include <sys/types.h>

namespace kcd {

// A filesystem operation failed; what() = "<operation> <path>: <strerror>".
class FileError : public std::runtime_error {
 public:
  FileError(std::string_view operation, const std::filesystem::path& path, int err);
  const std::filesystem::path& path() const { return path_; }
  int code() const { return code_; }

 private:
  std::filesystem::path path_;
  int code_;
};

// Replaces `path` with `content` atomically: a temp file in the same directory is created
// with `mode` (fchmod, independent of umask), written, fsync'ed, renamed over `path`, and the
// directory is fsync'ed. The temp file is removed on any failure. Throws FileError.
void write_file_atomic(const std::filesystem::path& path, std::string_view content, mode_t mode);

// Points symlink `link` at `target` in one step: symlink(target, tmp) + rename(tmp, link) +
// directory fsync; there is never a moment without `link`. Throws FileError.
void replace_symlink_atomic(const std::filesystem::path& link, const std::filesystem::path& target);

// fsync of a directory, so renames and unlinks in it survive a power loss. Throws FileError.
void fsync_directory(const std::filesystem::path& dir);

// Removes `path` if it exists and fsyncs its directory. Throws FileError (not on ENOENT).
void remove_file_durable(const std::filesystem::path& path);

// Reads a whole file; throws FileError. Refuses files over `limit` bytes.
std::string read_file(const std::filesystem::path& path, std::size_t limit = 16 << 20);

// Creates `dir` (and parents) with `mode` if missing. Throws FileError.
void ensure_directory(const std::filesystem::path& dir, mode_t mode);

// Removes temp files write_file_atomic / replace_symlink_atomic left behind when the process
// died between creating and renaming them: hidden ".<prefix>*.tmp-*" entries of `dir`. Only
// safe under the instance lock. Returns what was removed.
std::vector<std::filesystem::path> remove_stale_temp_files(const std::filesystem::path& dir,
                                                           std::string_view prefix);

// Test hook for the crash-safety tests: when the environment variable KCD_CRASH_AT equals
// `step`, the process kills itself with SIGKILL right here. A no-op otherwise.
void crash_point(std::string_view step);

}  // namespace kcd
