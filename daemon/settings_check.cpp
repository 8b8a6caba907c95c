#include "daemon/settings_check.hpp"

#include "base/files.hpp"
#include "daemon/control.hpp"

#include <sys/un.h>

namespace kcd::daemon {

namespace fs = std::filesystem;

namespace {

// The same file: the same normal path, or (when both exist) the same inode through links.
bool same_file(const fs::path& a, const fs::path& b) {
  if (a.lexically_normal() == b.lexically_normal()) return true;
  std::error_code ec;
  return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec) && !ec;
}

// kubelet-certd's own names in certDir: its state, lock, socket and pending keys
// (kubelet-certd*) and the kubelet's certificate files (kubelet-client-*, kubelet-server-*).
bool is_ours_in_cert_dir(const config::Settings& s, const fs::path& p) {
  const fs::path dir = p.parent_path();
  if (!same_file(dir, s.cert_dir)) return false;
  const std::string name = p.filename().string();
  for (std::string_view prefix : {"kubelet-certd", "kubelet-client-", "kubelet-server-"})
    if (name.rfind(prefix, 0) == 0) return true;
  return false;
}

Unexpected<Error> layout_error(const config::Settings& s, const std::string& key, std::string message) {
  return Unexpected(config_error(s.origins.of(key), std::move(message)));
}

std::string where_given(const config::Settings& s, const std::string& key) {
  const Location at = s.origins.of(key);
  std::string out = at.file;
  if (at.line > 0) out += ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
  if (!out.empty()) out += ": ";
  return out + at.key;
}

}  // namespace

std::vector<Output> outputs_of(const config::Settings& s) {
  std::vector<Output> out = {
      {"kubeconfig", s.kubeconfig}, {"kubeletConfig", s.kubelet_config}, {"clientCAFile", s.client_ca_file}};
  if (!s.metrics_textfile.empty()) out.push_back({"metricsTextfile", s.metrics_textfile});
  return out;
}

Expected<void> check_layout(const config::Settings& s) {
  const auto outputs = outputs_of(s);
  std::vector<Output> inputs = {{"bootstrapKubeconfig", s.bootstrap_kubeconfig}};
  if (!s.config_file.empty()) inputs.push_back({"the settings file (--config)", s.config_file});
  if (!s.kubelet_path.empty()) inputs.push_back({"kubeletPath", s.kubelet_path});

  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Output& o = outputs[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (same_file(o.path, outputs[j].path)) {
        return layout_error(s, o.key,
                            o.path.string() + " is also " + outputs[j].key + " (" +
                                where_given(s, outputs[j].key) +
                                "): kubelet-certd writes both, so each needs a file of its own; point " +
                                o.key + " at another file");
      }
    }
    for (const Output& in : inputs) {
      if (same_file(o.path, in.path)) {
        return layout_error(s, o.key,
                            o.path.string() + " is also " + in.key +
                                ", which kubelet-certd reads: writing it would destroy it; point " + o.key +
                                " at another file");
      }
    }
    if (same_file(o.path, s.cert_dir)) {
      return layout_error(s, o.key, o.path.string() + " is certDir itself; point " + o.key + " at a file");
    }
    if (is_ours_in_cert_dir(s, o.path)) {
      return layout_error(s, o.key,
                          o.path.string() + " takes one of kubelet-certd's own names in certDir " +
                              "(kubelet-certd*, kubelet-client-*, kubelet-server-*); choose another name");
    }
  }

  const std::string socket = (s.cert_dir / kControlSocketName).string();
  constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;  // the NUL
  if (socket.size() > kMaxSocketPath) {
    return layout_error(s, "certDir",
                        "the control socket " + socket + " would be " + std::to_string(socket.size()) +
                            " bytes long, but a socket path holds at most " + std::to_string(kMaxSocketPath) +
                            "; choose a certDir of at most " +
                            std::to_string(kMaxSocketPath - kControlSocketName.size() - 1) + " bytes");
  }
  return {};
}

Expected<void> check_written_directories(const config::Settings& s, bool kubelet_files) {
  std::vector<Output> dirs = {{"certDir", s.cert_dir}, {"kubeconfig", s.kubeconfig.parent_path()}};
  if (kubelet_files) {
    dirs.push_back({"kubeletConfig", s.kubelet_config.parent_path()});
    dirs.push_back({"clientCAFile", s.client_ca_file.parent_path()});
  }
  if (!s.metrics_textfile.empty()) dirs.push_back({"metricsTextfile", s.metrics_textfile.parent_path()});
  for (const Output& d : dirs) {
    if (auto ok = check_private_directory(d.path); !ok) {
      Error e = ok.error();
      e.message = d.key + ": " + e.message;
      return Unexpected(std::move(e));
    }
  }
  // A file that is a link is written at its target (write_file_through): that folder too.
  std::vector<Output> files = {{"kubeconfig", s.kubeconfig}};
  if (kubelet_files) {
    files.push_back({"kubeletConfig", s.kubelet_config});
    files.push_back({"clientCAFile", s.client_ca_file});
  }
  if (!s.metrics_textfile.empty()) files.push_back({"metricsTextfile", s.metrics_textfile});
  for (const Output& f : files) {
    auto target = kcd::write_through_target(f.path);
    if (!target) {
      Error e = target.error();
      e.message = f.key + ": " + e.message;
      return Unexpected(std::move(e));
    }
    if (*target == f.path) continue;
    if (auto ok = check_private_directory(target->parent_path()); !ok) {
      Error e = ok.error();
      e.message = f.key + ": " + f.path.string() + " is a link to " + target->string() +
                  ", in a folder that is not ours to write: " + e.message;
      return Unexpected(std::move(e));
    }
  }
  return {};
}

Expected<config::Settings> load_checked_settings(const config::SettingFlags& flags,
                                                 const config::Environment& env) {
  auto settings = config::load_settings(flags, env);
  if (!settings) return settings;
  if (auto ok = check_layout(*settings); !ok) return Unexpected(ok.error());
  return settings;
}

}  // namespace kcd::daemon
