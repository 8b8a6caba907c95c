// Wires the kubelet to what kubelet-certd manages: the cluster CA file (written from the
// kubeconfig if absent), kubelet-config.yaml patched (certificate files, client CA,
// hardening) with a backup of the previous version, and the flags on the kubelet's command
// line that would override the patch. Used by the daemon and by `check --fix`.
#pragma once

#include "config/cis.hpp"
#include "config/kubelet_flags.hpp"
#include "config/settings.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace kcd::daemon {

struct KubeletSetup {
  bool ca_written = false;                 // client_ca_file was created
  bool config_changed = false;             // kubelet-config.yaml was rewritten
  std::vector<std::string> changes;        // what changed in it
  std::filesystem::path backup;            // the previous version, when there was one
  std::vector<std::string> conflicts;      // flags that override the patched settings
};

// Throws std::runtime_error whose message names the file and the fix; nothing is changed
// then (the CA file, if written, is correct on its own).
KubeletSetup configure_kubelet(const config::Settings& settings, const std::filesystem::path& root = "/");

// Flags on the kubelet's command line that contradict what kubelet-certd sets in the file:
// "--read-only-port=10255 (/etc/default/kubelet:1) overrides readOnlyPort: 0 ...".
std::vector<std::string> kubelet_flag_conflicts(const config::Settings& settings, const config::KubeletCommandLine& cl);

// What the CIS checks read on this node: the configured paths, the kubelet's command line.
config::CisInputs cis_inputs(const config::Settings& settings, const std::filesystem::path& root = "/");

// The backup of the previous kubelet-config.yaml: "<file>.kubelet-certd.bak"; the version
// from before kubelet-certd first patched it stays in "<file>.kubelet-certd.orig".
std::filesystem::path kubelet_config_backup(const std::filesystem::path& config);

}  // namespace kcd::daemon
