#include "kubelet/cis_collect.hpp"

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

Expected<std::string> read_text(const fs::path& root, const fs::path& file) {
  // O_NONBLOCK: a FIFO planted on the name must not hang the caller; only a regular file is read.
  const int fd = ::open(under(root, file).c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Unexpected(io_error("open", file.string(), errno));
  struct stat st {};
  int err = 0;
  if (::fstat(fd, &st) != 0) {
    err = errno;
  } else if (S_ISDIR(st.st_mode)) {
    err = EISDIR;
  } else if (!S_ISREG(st.st_mode)) {
    err = EINVAL;
  }
  if (err != 0) {
    ::close(fd);
    return Unexpected(io_error("read", file.string(), err));
  }
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      ::close(fd);
      return Unexpected(io_error("read", file.string(), err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      ::close(fd);
      return Unexpected(io_error("read", file.string(), EFBIG));
    }
  }
  ::close(fd);
  return text;
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
