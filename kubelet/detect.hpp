// Finding the kubelet that will really run, and its version: the running process (only one
// that runs as root from a root-owned executable nobody else can write, and that is the
// unit's MainPID when systemd says), else the ExecStart= of its unit with the drop-ins, or
// the kubeletPath setting, which overrides both. Reads /proc and unit files under `root`.
#pragma once

#include "base/expected.hpp"
#include "kubelet/version.hpp"

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kcd::kubelet {

struct RunningKubelet {
  pid_t pid = 0;
  std::vector<std::string> argv;
  std::filesystem::path exe;  // what /proc/<pid>/exe points at
  // /proc/<pid>/exe could not be followed (no CAP_SYS_PTRACE in our sandbox); the process is
  // believed because it is the unit's MainPID, and its binary is the unit's ExecStart=.
  bool exe_hidden = false;
};

// The running kubelet under `root`/proc. `main_pid` (the unit's MainPID; 0 when unknown)
// narrows the choice to that process. Processes named kubelet that fail the identity checks
// are skipped; each is described in `ignored` when given.
std::optional<RunningKubelet> find_running_kubelet(const std::filesystem::path& root, pid_t main_pid,
                                                   std::vector<std::string>* ignored = nullptr);

struct ExecStart {
  std::filesystem::path binary;  // absolute path of the unit's program
  std::string where;             // "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf:6"
};
// The program of `unit`'s effective ExecStart= (unit file and drop-ins, in systemd's order,
// an empty ExecStart= resetting the list). nullopt when there is no such unit or the program
// is not an absolute path.
std::optional<ExecStart> unit_exec_start(const std::filesystem::path& root, const std::string& unit);

// Succeeds when `binary` may be run as root: a regular file owned by root that neither group nor
// others can write; else a Refused (or Io) error saying why.
Expected<void> trusted_executable(const std::filesystem::path& binary);

struct KubeletBinary {
  std::optional<std::filesystem::path> path;  // what `--version` was asked of
  std::string source;  // "running kubelet (pid 812)", "kubeletPath", "ExecStart= of ..."
  std::optional<Version> version;
  std::string version_text;          // what it answered
  std::string problem;               // why no version is known, when it is not
  std::vector<std::string> ignored;  // processes named kubelet that were not believed
  std::string describe() const;      // "v1.24.17 (running kubelet (pid 812), /usr/bin/kubelet)"
};

struct DetectOptions {
  std::filesystem::path root = "/";
  std::optional<std::filesystem::path> kubelet_path;  // the kubeletPath setting
  std::string unit = "kubelet.service";
  pid_t main_pid = 0;  // the unit's MainPID, 0 when unknown
  // Turns true on SIGTERM: `--version` is killed at once rather than waited for.
  const std::atomic<bool>* stop = nullptr;
};

// Runs `<binary> --version` (5 s at most, output capped, no shell, clean environment) for the
// first source that names a kubelet; the child is killed when it has not exited by then, or at
// once on `stop`. Never throws.
KubeletBinary detect_kubelet(const DetectOptions& options);

}  // namespace kcd::kubelet
