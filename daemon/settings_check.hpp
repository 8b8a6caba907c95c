// What the settings ask for that parses but cannot work, or that is not safe to do: checked
// once, when the settings are loaded (and before anything is written).
#pragma once

#include "base/expected.hpp"
#include "config/settings.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace kcd::daemon {

// A file kubelet-certd writes, and the setting that names it.
struct Output {
  std::string key;  // "kubeconfig", "metricsTextfile", ...
  std::filesystem::path path;
};
// Every file the settings make us write outside certDir (certDir's own files are ours by name).
std::vector<Output> outputs_of(const config::Settings& s);

// The layout must be able to work: every output has a file of its own (no two outputs, and no
// output and an input such as the bootstrap kubeconfig or the settings file, are one file,
// also through a link), no output takes one of kubelet-certd's names in certDir or certDir
// itself, and the control socket's path (<certDir>/kubelet-certd.sock) fits in a socket
// address. ErrorKind::Config at the setting's origin (file:line:column: key), exit 2.
Expected<void> check_layout(const config::Settings& s);

// No one but root (or us) may be able to change certDir or a folder we write a file into
// (check_private_directory): refused with ErrorKind::Refused naming the setting, exit 1.
// `kubelet_files`: also the folders of kubeletConfig and clientCAFile (when we patch).
Expected<void> check_written_directories(const config::Settings& s, bool kubelet_files);

// config::load_settings followed by check_layout: what every command loads.
Expected<config::Settings> load_checked_settings(const config::SettingFlags& flags,
                                                 const config::Environment& env);

}  // namespace kcd::daemon
