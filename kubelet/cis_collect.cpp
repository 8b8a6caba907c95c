#include "kubelet/cis_collect.hpp"

#include "base/files.hpp"

#include "kubelet/cis_kube_bench.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>

namespace kcd::kubelet {

namespace fs = std::filesystem;

namespace {

// A kubelet config file is a few KiB; anything this large is not one.
constexpr std::size_t kMaxConfigBytes = 16 << 20;

fs::path under(const fs::path& root, const fs::path& file) {
  return root / file.relative_path();
}

Expected<CisFileStat> stat_file(const fs::path& root, const fs::path& file) {
  struct stat st {};
  if (file.empty()) return Unexpected(io_error("stat", "(no file named)", ENOENT));
  if (::stat(under(root, file).c_str(), &st) != 0) return Unexpected(io_error("stat", file.string(), errno));
  CisFileStat out;
  out.mode = static_cast<unsigned>(st.st_mode & 07777);
  out.user = std::to_string(st.st_uid);
  out.group = std::to_string(st.st_gid);
  if (const passwd* pw = ::getpwuid(st.st_uid)) out.user = pw->pw_name;
  if (const struct group* gr = ::getgrgid(st.st_gid)) out.group = gr->gr_name;
  return out;
}

// The one bounded reader (O_NONBLOCK, regular files only, capped): a FIFO or device planted on
// the name is refused, never read.
Expected<std::string> read_text(const fs::path& root, const fs::path& file) {
  return kcd::read_file(under(root, file), kMaxConfigBytes);
}

}  // namespace

CisFacts collect_cis_facts(const CisInputs& in) {
  CisFacts f;
  f.command_line = in.command_line;
  f.kubelet_config.path = cis_kubelet_config(in.command_line, in.kubelet_config);
  f.kubeconfig.path = cis_kubeconfig(in.command_line, in.kubeconfig);
  f.kubelet_config_text = read_text(in.root, f.kubelet_config.path);
  // The CA file may be named by the config file: parse it here to know which file to stat.
  std::optional<CisConfigDocument> config;
  if (f.kubelet_config_text) {
    if (auto doc = CisConfigDocument::parse(*f.kubelet_config_text, f.kubelet_config.path.string())) {
      config = std::move(*doc);
    }
  }
  f.client_ca_file.path = cis_client_ca_file(in.command_line, config ? &*config : nullptr, in.client_ca_file);
  for (CisFile* file : {&f.kubelet_config, &f.kubeconfig, &f.client_ca_file}) {
    file->stat = stat_file(in.root, file->path);
  }
  return f;
}

}  // namespace kcd::kubelet
