// The one place that writes files that matter: temp file + fsync + rename + directory fsync,
// and the one-step symlink swap. A failure leaves the previous file untouched.
#pragma once

#include "base/expected.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>
#include <sys/types.h>

namespace kcd {

// Every operation returns an ErrorKind::Io error on failure: message "<operation> <path>:
// <strerror>", code = errno (ENOENT tells a missing file from a broken one).

// How much of a write has reached the disk when it returns. Every level is atomic (the rename):
// a reader, or a restart after a crash of the process, sees the old file or the new one, whole.
// The levels differ after a power loss, and each caller names the invariant it needs.
enum class Sync {
  Durable,   // file and directory fsync'ed: the new file survives a power loss
  FileOnly,  // the file's data fsync'ed before the rename, the directory not: the next fsync of the
             // same directory (or the kernel's writeback) commits the rename; a journaling
             // filesystem (ext4, XFS) commits renames in order, so a later rename in that
             // directory that is durable implies this one is
  None,      // no fsync: after a power loss the old file, the new one, or (where a filesystem
             // does not order a replacing rename after the data, unlike ext4) an empty file
};

// Replaces `path` with `content` atomically: a temp file in the same directory is created
// with `mode` (fchmod, independent of umask), written, fsync'ed, renamed over `path`, and the
// directory is fsync'ed (as far as `sync` says). The temp file is removed on any failure.
Expected<void> write_file_atomic(const std::filesystem::path& path, std::string_view content, mode_t mode,
                                 Sync sync = Sync::Durable);

// The file a write to `path` lands on: `path` itself, or, when `path` is a symbolic link (a
// chain of at most 40), the file it finally names (a relative link is read against its own
// folder; a dangling one names the file to create). Links in the folders above are left to the
// kernel. ErrorKind::Io with ELOOP past 40 links.
Expected<std::filesystem::path> write_through_target(const std::filesystem::path& path);

// write_file_atomic at write_through_target(path): a link (configuration management's habit)
// stays a link, and the file it names is replaced atomically in that file's own folder. A link
// that leads into another folder needs that folder to pass check_private_directory; the error
// then names the link, the folder and the fix. Nothing is written on any error.
Expected<void> write_file_through(const std::filesystem::path& path, std::string_view content, mode_t mode);

// Points symlink `link` at `target` in one step: symlink(target, tmp) + rename(tmp, link) +
// directory fsync; there is never a moment without `link`.
Expected<void> replace_symlink_atomic(const std::filesystem::path& link, const std::filesystem::path& target);

// fsync of a directory, so renames and unlinks in it survive a power loss.
Expected<void> fsync_directory(const std::filesystem::path& dir);

// Removes `path` if it exists (a missing file is success); Sync::Durable (or FileOnly, the same
// here) also fsyncs its directory.
Expected<void> remove_file(const std::filesystem::path& path, Sync sync);
inline Expected<void> remove_file_durable(const std::filesystem::path& path) {
  return remove_file(path, Sync::Durable);
}

// The one reader of files that come from outside: opened with O_NONBLOCK (a FIFO never
// blocks the daemon), refused unless fstat says regular file (no devices, FIFOs, sockets,
// directories), refused over `limit` bytes (checked before reading and while reading, so a
// growing file cannot grow our memory).
Expected<std::string> read_file(const std::filesystem::path& path, std::size_t limit = 16 << 20);

// read_file for a secret we wrote ourselves (a private key): additionally refused when `path` is
// a symlink (O_NOFOLLOW), owned by another user than ours, or open to group or others.
Expected<std::string> read_private_file(const std::filesystem::path& path, std::size_t limit);

// Refuses a directory that someone other than us could change, since anything planted there
// (a pending key, a link on one of our names) would be trusted. The directory and each of its
// parents must be owned by root or by us and closed to writing by group and others; a parent
// with the sticky bit (such as /tmp) may be open, the directory itself may not. Both the path
// as given and the one its symlinks resolve to are checked. A directory that does not exist
// yet is judged by its nearest existing parent, since we create the rest. ErrorKind::Refused,
// the message names the directory, what is wrong and the command that fixes it.
Expected<void> check_private_directory(const std::filesystem::path& dir);

// Creates `dir` (and parents) with `mode` if missing.
Expected<void> ensure_directory(const std::filesystem::path& dir, mode_t mode);

// Removes temp files write_file_atomic / replace_symlink_atomic left behind when the process
// died between creating and renaming them: hidden ".<prefix>*.tmp-*" entries of `dir`. Only
// safe under the instance lock. Returns what was removed.
std::vector<std::filesystem::path> remove_stale_temp_files(const std::filesystem::path& dir,
                                                           std::string_view prefix);

// Test hook for the crash-safety tests: when the environment variable KCD_CRASH_AT equals
// `step`, the process kills itself with SIGKILL right here. A no-op otherwise.
void crash_point(std::string_view step);

}  // namespace kcd
