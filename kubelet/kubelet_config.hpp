// The kubelet's KubeletConfiguration (kubelet.config.k8s.io/v1beta1): what kubelet-certd
// sets in it (certificate files, client CA, hardening) as a text-preserving patch.
#pragma once

#include "base/expected.hpp"
#include "config/settings.hpp"
#include "kubelet/key_rules.hpp"
#include "kubelet/version.hpp"

#include <map>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::kubelet {

using config::Hardening;

// The largest kubelet config file read, patched or checked. A real one is a few KiB; the bound
// keeps the worst case of a patch (two parses and a compare) well under a second, so SIGTERM
// and --timeout hold while it runs.
inline constexpr std::size_t kMaxKubeletConfigBytes = 256u << 10;

// The only cipher suites CIS 4.2.12 (kube-bench) accepts.
const std::vector<std::string>& strong_cipher_suites();

struct KubeletConfigPatch {
  // Set only once a serving certificate is installed: a path to a missing file stops the kubelet.
  std::optional<std::filesystem::path> tls_cert_file, tls_private_key_file;
  std::optional<std::filesystem::path> client_ca_file;
  Hardening hardening = Hardening::Cis;
  // The kubelet the file is written for (nullopt: unknown, so only keys that every supported
  // version accepts), and the gates of its --feature-gates flag (the file's featureGates are
  // read from the file itself). A key this kubelet would refuse is held back, never written.
  std::optional<Version> kubelet_version;
  FeatureGates flag_gates;
  // Keys refused after a rollback (key -> why): held back too.
  std::map<std::string, std::string> refused;
  // Larger originals are refused (the bench lifts it to measure the editor on 100,000 keys).
  std::size_t max_bytes = kMaxKubeletConfigBytes;
};

// A change the patch would make but does not, and why.
struct HeldKey {
  std::string key;     // "seccompDefault"
  std::string cis;     // "4.2.14"
  std::string reason;  // "seccompDefault needs the SeccompDefault feature gate on kubelet 1.24"
};

struct PatchResult {
  std::string text;
  bool changed = false;
  std::vector<std::string> changes;  // "readOnlyPort: 10255 -> 0", "removed rotateCertificates", ...
  std::vector<std::string> keys;     // the dotted keys changed ("readOnlyPort", "rotateCertificates")
  std::vector<HeldKey> held_back;    // keys that would be changed but this kubelet would refuse
};

// Applies the patch to `original` (empty: a new file with apiVersion/kind). Comments, key
// order, unknown fields, quoting, indentation and line endings of everything else are kept;
// kubelet-certd owns rotation, so `rotateCertificates` and `serverTLSBootstrap` are removed
// (never written as false: kube-bench fails 4.2.10 on an explicit false). The result is
// re-parsed and compared with the intended document before it is returned. Idempotent.
// Only keys of key_rules() are written, and only those the kubelet accepts (see HeldKey).
// Errors (ErrorKind::Config: malformed YAML with line:column, wrong kind, a shape that cannot
// be edited, over kMaxKubeletConfigBytes or base/yaml's limits) name `source`; no text is
// returned then. Linear in the size of `original`.
Expected<PatchResult> patch_kubelet_config(std::string_view original, const KubeletConfigPatch& patch,
                                           const std::filesystem::path& source);

}  // namespace kcd::kubelet
