// The kubelet's command line: what overrides kubelet-config.yaml. Read from the running
// kubelet (/proc/<pid>/cmdline, what `ps -fC kubelet` shows kube-bench) or, when it is not
// running, assembled from the files its unit takes flags from: kubelet.service and its
// drop-ins, /var/lib/kubelet/kubeadm-flags.env, /etc/default/kubelet, /etc/sysconfig/kubelet.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kcd::kubelet {

struct KubeletFlag {
  std::string name;   // "--read-only-port"
  std::string value;  // "10255" ("true" for a bare boolean flag)
  std::string where;  // "/etc/default/kubelet:3", or "/proc/812/cmdline"
};

struct KubeletCommandLine {
  std::string origin;              // "running kubelet (pid 812)", "service files", or "" when none found
  std::string text;                // "kubelet --a=b --c=d": the text kube-bench's audit sees
  std::vector<KubeletFlag> flags;  // in order; the kubelet uses the last of each name
  std::vector<std::string> files;  // the files read (service file first, if any)
  std::optional<std::filesystem::path> service_file;  // the kubelet unit found, for remediation texts
  std::vector<std::string> ignored;  // processes named kubelet that are not believed (not root, ...)

  // The last occurrence of a flag (the one the kubelet uses), with its source.
  const KubeletFlag* find(const std::string& name) const;
  // Where a flag is written in a file, if anywhere (for flags seen in /proc).
  std::string defined_in(const std::string& name) const;
};

// Everything under `root` ("/" on a node; a temporary tree in tests). Only a process that
// passes find_running_kubelet()'s identity checks counts as the running kubelet; `main_pid`
// is the kubelet unit's MainPID when systemd can say (0 otherwise).
KubeletCommandLine read_kubelet_command_line(const std::filesystem::path& root = "/", pid_t main_pid = 0);

// Splits a shell-like argument string ("--a=b \"--c=d e\"") into words.
std::vector<std::string> split_words(const std::string& s);

}  // namespace kcd::kubelet
