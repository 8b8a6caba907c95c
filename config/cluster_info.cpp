#include "config/cluster_info.hpp"

#include "base/base64.hpp"
#include "base/openssl.hpp"
#include "base/yaml.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <yaml-cpp/yaml.h>

namespace kcd::config {

namespace {

bool all_of_class(std::string_view s, std::size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

Error corrupt(const std::string& source, std::string key, std::string message) {
  return make_error(ErrorKind::Corrupt, std::move(message), Location{source, 0, 0, std::move(key)});
}

// `map[key]` when `map` is a mapping, else an undefined node: yaml-cpp's operator[] throws
// BadSubscript on a scalar, and cluster-info's kubeconfig is the API server's text.
// yaml-cpp's Type() (so IsMap()) throws InvalidNode on the node a const lookup of an absent key
// returns, hence the `!map` first and a valid undefined node back.
YAML::Node child(const YAML::Node& map, const char* key) {
  if (!map || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node n = map[key];
  return n ? n : YAML::Node(YAML::NodeType::Undefined);
}

std::optional<std::string> scalar(const YAML::Node& map, const char* key) {
  const YAML::Node n = child(map, key);
  if (!n || !n.IsScalar()) return std::nullopt;
  return n.Scalar();
}

}  // namespace

std::optional<BootstrapToken> parse_bootstrap_token(std::string_view token) {
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto id = token.substr(0, dot);
  const auto secret = token.substr(dot + 1);
  if (!all_of_class(id, 6) || !all_of_class(secret, 16)) return std::nullopt;
  return BootstrapToken{std::string(id), std::string(secret)};
}

std::string detached_jws(std::string_view content, const BootstrapToken& token) {
  // go-jose serializes the protected header with its keys in this order.
  const std::string header = base64url_encode_nopad(R"({"alg":"HS256","kid":")" + token.id + "\"}");
  const std::string signing_input = header + "." + base64url_encode_nopad(content);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ossl::check(HMAC(EVP_sha256(), token.secret.data(), static_cast<int>(token.secret.size()),
                   reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
                   &len) != nullptr,
              "HMAC(SHA-256)");
  return header + ".." + base64url_encode_nopad(std::string_view(reinterpret_cast<const char*>(mac), len));
}

Expected<ClusterInfo> parse_cluster_info(const std::map<std::string, std::string>& data,
                                         const std::string& source) {
  ClusterInfo info;
  const auto kc = data.find("kubeconfig");
  if (kc == data.end() || kc->second.empty())
    return Unexpected(
        corrupt(source, "data.kubeconfig", "has no kubeconfig: this is not kubeadm's cluster-info"));
  if (kc->second.size() > kMaxClusterInfoKubeconfigBytes)
    return Unexpected(corrupt(source, "data.kubeconfig",
                              "is larger than " + std::to_string(kMaxClusterInfoKubeconfigBytes) + " bytes"));
  info.kubeconfig = kc->second;
  static constexpr std::string_view kPrefix = "jws-kubeconfig-";
  for (const auto& [key, value] : data) {
    if (key.rfind(kPrefix, 0) != 0) continue;
    if (info.signatures.size() >= kMaxClusterInfoSignatures)
      return Unexpected(corrupt(
          source, "data", "has more than " + std::to_string(kMaxClusterInfoSignatures) + " signatures"));
    info.signatures.emplace(key.substr(kPrefix.size()), value);
  }

  auto root = load_yaml(info.kubeconfig, source + " data.kubeconfig", ErrorKind::Corrupt);
  if (!root) return Unexpected(root.error());
  const YAML::Node clusters = child(*root, "clusters");
  if (!clusters || !clusters.IsSequence() || clusters.size() == 0)
    return Unexpected(corrupt(source, "data.kubeconfig", "names no cluster"));
  // As kubeadm reads it: the current context's cluster, else the first one.
  YAML::Node cluster = child(clusters[0], "cluster");
  if (auto ctx = scalar(*root, "current-context"); ctx && !ctx->empty()) {
    const YAML::Node contexts = child(*root, "contexts");
    if (contexts && contexts.IsSequence()) {
      for (const auto& c : contexts) {
        if (scalar(c, "name") != ctx) continue;
        const auto name = scalar(child(c, "context"), "cluster");
        for (const auto& entry : clusters)
          if (name && scalar(entry, "name") == name) cluster = child(entry, "cluster");
      }
    }
  }
  if (!cluster || !cluster.IsMap())
    return Unexpected(corrupt(source, "data.kubeconfig clusters[0].cluster", "is not a mapping"));
  const auto server = scalar(cluster, "server");
  if (!server || server->empty())
    return Unexpected(corrupt(source, "data.kubeconfig cluster.server", "is not set"));
  info.server = *server;
  const auto ca = scalar(cluster, "certificate-authority-data");
  if (!ca)
    return Unexpected(corrupt(source, "data.kubeconfig cluster.certificate-authority-data", "is not set"));
  auto decoded = base64_decode(*ca);
  if (!decoded || decoded->empty())
    return Unexpected(
        corrupt(source, "data.kubeconfig cluster.certificate-authority-data", "is not valid base64"));
  info.ca_pem = std::move(*decoded);
  return info;
}

Expected<void> verify_cluster_info(const ClusterInfo& info, const BootstrapToken& token,
                                   const std::string& source) {
  const auto found = info.signatures.find(token.id);
  if (found == info.signatures.end()) {
    return Unexpected(corrupt(source, "data.jws-kubeconfig-" + token.id,
                              "has no signature for bootstrap token \"" + token.id +
                                  "\" (the token has expired or was deleted): the CA bundle it publishes "
                                  "is not trusted; give the bootstrap kubeconfig a current token, or remove "
                                  "it once the node has its certificate"));
  }
  const std::string want = detached_jws(info.kubeconfig, token);
  const std::string& got = found->second;
  if (got.size() != want.size() || CRYPTO_memcmp(got.data(), want.data(), want.size()) != 0) {
    return Unexpected(corrupt(source, "data.jws-kubeconfig-" + token.id,
                              "does not sign data.kubeconfig with bootstrap token \"" + token.id +
                                  "\": the CA bundle it publishes is not trusted"));
  }
  return {};
}

}  // namespace kcd::config
