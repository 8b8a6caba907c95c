// Fact collection, the only I/O of the CIS checks: reads the kubelet config file kube-bench's
// rules point at and stats it, the kubeconfig and the client CA file, under a system root (a
// temporary tree in tests). The kubelet's command line comes in already read
// (read_kubelet_command_line, kubelet_flags.hpp): `check` needs it before the checks run.
#pragma once

#include "kubelet/cis_facts.hpp"
#include "kubelet/kubelet_flags.hpp"

#include <filesystem>

namespace kcd::kubelet {

// Where the facts come from. Paths are the node's real paths; `root` prefixes them when
// reading.
struct CisInputs {
  std::filesystem::path root = "/";
  std::filesystem::path kubelet_config;  // $kubeletconf (--config on the command line wins)
  std::filesystem::path kubeconfig;      // $kubeletkubeconfig (--kubeconfig wins)
  std::filesystem::path client_ca_file;  // $kubeletcafile when neither flag nor file names one
  KubeletCommandLine command_line;       // read_kubelet_command_line(root)
};

// Never fails: what cannot be read is recorded in the facts as the error that stopped it.
CisFacts collect_cis_facts(const CisInputs& in);

}  // namespace kcd::kubelet
