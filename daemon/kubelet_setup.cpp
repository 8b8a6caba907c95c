#include "daemon/kubelet_setup.hpp"

#include "config/kubeconfig.hpp"
#include "config/kubelet_config.hpp"
#include "rotation/atomic_file.hpp"

#include <algorithm>
#include <stdexcept>

namespace kcd::daemon {

namespace fs = std::filesystem;

fs::path kubelet_config_backup(const fs::path& config) { return fs::path(config.string() + ".kubelet-certd.bak"); }

namespace {

// The cluster CA from the node's kubeconfig, else from the bootstrap kubeconfig.
std::string cluster_ca_pem(const config::Settings& s) {
  for (const auto& p : {s.kubeconfig, s.bootstrap_kubeconfig}) {
    std::error_code ec;
    if (!fs::exists(p, ec)) continue;
    auto k = config::load_kubeconfig(p);
    if (k && !k->ca_pem.empty()) return k->ca_pem;
  }
  return {};
}

}  // namespace

std::vector<std::string> kubelet_flag_conflicts(const config::Settings& s, const config::KubeletCommandLine& cl) {
  std::vector<std::string> out;
  const auto hardening = config::parse_hardening(s.hardening).value_or(config::Hardening::Cis);
  auto report = [&](const config::KubeletFlag& f, const std::string& why) {
    out.push_back(f.name + "=" + f.value + " (" + f.where + ") " + why);
  };
  auto flag = [&](const char* name) { return cl.find(name); };
  if (const auto* f = flag("--config"); f && fs::path(f->value) != s.kubelet_config) {
    report(*f, "is the file the kubelet reads, but kubelet-certd patches " + s.kubelet_config.string() +
                   ": set kubeletConfig to " + f->value);
  }
  if (const auto* f = flag("--kubeconfig"); f && fs::path(f->value) != s.kubeconfig) {
    report(*f, "is the kubeconfig the kubelet reads, but kubelet-certd writes " + s.kubeconfig.string() +
                   ": set kubeconfig to " + f->value);
  }
  if (const auto* f = flag("--client-ca-file"); f && fs::path(f->value) != s.client_ca_file) {
    report(*f, "overrides authentication.x509.clientCAFile: " + s.client_ca_file.string());
  }
  if (s.serving) {
    for (const char* name : {"--tls-cert-file", "--tls-private-key-file"}) {
      if (const auto* f = flag(name)) report(*f, "overrides the config file: the kubelet will not serve kubelet-certd's certificate");
    }
  }
  if (const auto* f = flag("--rotate-certificates")) {
    report(*f, "makes the kubelet's own rotation race with kubelet-certd's (or fails CIS 4.2.10): remove it");
  }
  if (const auto* f = flag("--rotate-server-certificates")) {
    report(*f, "makes the kubelet file its own serving CSRs next to kubelet-certd's: remove it");
  }
  if (const auto* f = flag("--feature-gates"); f && f->value.find("RotateKubeletServerCertificate=false") != std::string::npos) {
    report(*f, "sets RotateKubeletServerCertificate=false (CIS 4.2.11): remove that gate");
  }
  if (hardening != config::Hardening::Off) {
    if (const auto* f = flag("--anonymous-auth"); f && f->value != "false") {
      report(*f, "overrides authentication.anonymous.enabled: false (CIS 4.2.1)");
    }
    if (const auto* f = flag("--authorization-mode"); f && f->value != "Webhook") {
      report(*f, "overrides authorization.mode: Webhook (CIS 4.2.2)");
    }
    if (const auto* f = flag("--read-only-port"); f && f->value != "0") report(*f, "overrides readOnlyPort: 0 (CIS 4.2.4)");
  }
  if (hardening == config::Hardening::Cis) {
    if (const auto* f = flag("--tls-cipher-suites")) {
      const auto words = f->value;
      const auto& strong = config::strong_cipher_suites();
      std::size_t start = 0;
      bool weak = false;
      while (start <= words.size()) {
        const auto end = std::min(words.find(',', start), words.size());
        const auto suite = words.substr(start, end - start);
        if (!suite.empty() && std::find(strong.begin(), strong.end(), suite) == strong.end()) weak = true;
        start = end + 1;
      }
      if (weak) report(*f, "overrides tlsCipherSuites with suites CIS 4.2.12 does not accept");
    }
  }
  return out;
}

config::CisInputs cis_inputs(const config::Settings& s, const fs::path& root) {
  config::CisInputs in;  // files at their configured paths; the command line from `root`
  in.kubelet_config = s.kubelet_config;
  in.kubeconfig = s.kubeconfig;
  in.client_ca_file = s.client_ca_file;
  in.command_line = config::read_kubelet_command_line(root);
  return in;
}

KubeletSetup configure_kubelet(const config::Settings& s, const fs::path& root) {
  KubeletSetup result;
  std::error_code ec;
  if (!fs::exists(s.client_ca_file, ec)) {
    const std::string pem = cluster_ca_pem(s);
    if (!pem.empty()) {
      rotation::ensure_directory(s.client_ca_file.parent_path(), 0755);
      rotation::write_file_atomic(s.client_ca_file, pem, 0644);
      result.ca_written = true;
    }
  }
  result.conflicts = kubelet_flag_conflicts(s, config::read_kubelet_command_line(root));
  if (!s.patch_kubelet_config) return result;

  config::KubeletConfigPatch patch;
  patch.hardening = config::parse_hardening(s.hardening).value_or(config::Hardening::Cis);
  // A path to a missing file would stop the kubelet: only files that exist are named.
  if (fs::exists(s.client_ca_file, ec)) patch.client_ca_file = s.client_ca_file;
  const fs::path serving = s.cert_dir / "kubelet-server-current.pem";
  if (s.serving && fs::exists(serving, ec)) patch.tls_cert_file = patch.tls_private_key_file = serving;

  const bool existed = fs::exists(s.kubelet_config, ec);
  const std::string original = existed ? rotation::read_file(s.kubelet_config, 4 << 20) : std::string();
  auto patched = config::patch_kubelet_config(original, patch, s.kubelet_config);
  if (!patched) throw std::runtime_error(patched.error().format());
  if (!patched->changed) return result;
  if (existed) {
    // The version before this change, and (once) the operator's own version from before
    // kubelet-certd ever patched the file.
    const fs::path first = fs::path(s.kubelet_config.string() + ".kubelet-certd.orig");
    if (!fs::exists(first, ec)) rotation::write_file_atomic(first, original, 0600);
    result.backup = kubelet_config_backup(s.kubelet_config);
    rotation::write_file_atomic(result.backup, original, 0600);
  } else {
    rotation::ensure_directory(s.kubelet_config.parent_path(), 0755);
  }
  rotation::write_file_atomic(s.kubelet_config, patched->text, 0600);
  result.config_changed = true;
  result.changes = patched->changes;
  return result;
}

}  // namespace kcd::daemon
