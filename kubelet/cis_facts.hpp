// The facts the CIS checks are evaluated from: the kubelet's command line, its config file's
// text and the modes and owners of its files, as plain values. cis_collect reads them from the
// node; tests write them down.
#pragma once

#include "base/expected.hpp"
#include "kubelet/kubelet_config.hpp"
#include "kubelet/kubelet_flags.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace kcd::kubelet {

// What stat(2) says about a file (what `stat -c permissions=%a` and `stat -c %U:%G` print).
struct CisFileStat {
  unsigned mode = 0;  // permission bits
  std::string user;   // owner name, or the uid in decimal when it has none
  std::string group;  // group name, or the gid in decimal
};

// A file the checks look at: its path on the node and what stat said, or why it could not
// (an ErrorKind::Io error; code ENOENT when it is missing).
struct CisFile {
  std::filesystem::path path;  // empty: nothing names one
  Expected<CisFileStat> stat = Unexpected(make_error(ErrorKind::Io, "not looked at"));
};

struct CisFacts {
  KubeletCommandLine command_line;  // its flags win over the config file
  // The files the kubelet uses, chosen by kube-bench's rules (cis_kube_bench.hpp).
  CisFile kubelet_config;  // $kubeletconf
  CisFile kubeconfig;      // $kubeletkubeconfig
  CisFile client_ca_file;  // the CA file of 4.1.7 / 4.1.8
  // The config file's text (`cat $kubeletconf`), or why it could not be read.
  Expected<std::string> kubelet_config_text = Unexpected(make_error(ErrorKind::Io, "not read"));
  // Keys the config-file patch does not write on this kubelet, and why (from the patch plan,
  // not read by cis_collect): their checks are WARN with the reason, not FAIL.
  std::vector<HeldKey> held_back;
};

}  // namespace kcd::kubelet
