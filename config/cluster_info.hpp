// kube-public/cluster-info: what kubeadm publishes for discovery, and where a node learns the
// cluster's CA bundle today. Its data.kubeconfig names the bundle (its first cluster's
// certificate-authority-data); data["jws-kubeconfig-<token id>"] signs that text with each
// bootstrap token: a detached JWS (RFC 7515 appendix F), HS256 keyed by the token's secret, which
// kube-controller-manager's bootstrapsigner keeps up to date (kubeadm's ComputeDetachedSignature).
#pragma once

#include "base/expected.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kcd::config {

struct BootstrapToken {
  std::string id;      // [a-z0-9]{6}: public (it shows in system:bootstrap:<id>)
  std::string secret;  // [a-z0-9]{16}: never in errors or logs
};

// "<id>.<secret>" in the shape kubeadm creates; nullopt for anything else.
std::optional<BootstrapToken> parse_bootstrap_token(std::string_view token);

// base64url({"alg":"HS256","kid":"<id>"}) + ".." + base64url(HMAC-SHA256(secret,
// header + "." + base64url(content))): the value the bootstrapsigner stores for `content`.
std::string detached_jws(std::string_view content, const BootstrapToken& token);

struct ClusterInfo {
  std::string kubeconfig;                         // data.kubeconfig, as published (what is signed)
  std::map<std::string, std::string> signatures;  // token id -> data["jws-kubeconfig-<id>"]
  std::string server;                             // its first cluster's server
  std::string ca_pem;                             // its first cluster's certificate-authority-data
};

// Bounds on what is read from the ConfigMap (it comes from the network).
inline constexpr std::size_t kMaxClusterInfoKubeconfigBytes = 1u << 20;
inline constexpr std::size_t kMaxClusterInfoSignatures = 1000;

// From the ConfigMap's data. The error (ErrorKind::Corrupt) names `source` and what is missing or
// malformed; nothing in it echoes the data.
Expected<ClusterInfo> parse_cluster_info(const std::map<std::string, std::string>& data,
                                         const std::string& source);

// `kubeadm join`'s check: the signature for token.id is present and is detached_jws(kubeconfig,
// token), compared in constant time. The error says which (absent: the token has expired or was
// deleted; different: the document was not signed with this token).
Expected<void> verify_cluster_info(const ClusterInfo& info, const BootstrapToken& token,
                                   const std::string& source);

}  // namespace kcd::config
