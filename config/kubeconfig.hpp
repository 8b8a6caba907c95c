// Kubeconfig files: reading what kubeadm and kubectl write, and writing the kubelet's own.
#pragma once

#include "base/expected.hpp"
#include "config/settings.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace kcd::config {

// A kubeconfig's `server`, parsed once when the kubeconfig is loaded: nothing re-parses it
// later, so a typo is a configuration error with its position, never a failure mid-request.
struct ServerUrl {
  std::string text;         // as written: https://host:port[/path]
  std::string host;         // without brackets for IPv6
  std::string port;         // "443" when absent; 1-65535
  std::string path_prefix;  // "" or "/prefix" (no trailing slash)
  bool host_is_ip = false;
};
// https only, a host, an optional numeric port 1-65535, an optional path; no user info, query
// or fragment. The error (ErrorKind::Config, no location: the loader adds it) says what is
// wrong with `server`.
Expected<ServerUrl> parse_server_url(const std::string& server);

struct Kubeconfig {
  std::filesystem::path source;
  std::string current_context, cluster_name, user_name;
  ServerUrl server;                              // https://host:port[/path]
  std::string ca_pem;                            // decoded data, or the CA file's contents
  std::optional<std::filesystem::path> ca_file;  // absolute, when it came from a file
  std::optional<std::string> tls_server_name;
  std::optional<std::string> token;  // a secret: never in errors or logs
  std::optional<std::filesystem::path> token_file;
  std::optional<std::string> client_certificate_pem, client_key_pem;              // from *-data
  std::optional<std::filesystem::path> client_certificate_file, client_key_file;  // absolute
};

// Reads and parses `path`. Reads the CA file and tokenFile it names (relative paths are
// relative to the kubeconfig's directory, as kubectl resolves them) but not client
// certificate/key files: those rotate, and the API client reads them per connection.
Expected<Kubeconfig> load_kubeconfig(const std::filesystem::path& path);
Expected<Kubeconfig> parse_kubeconfig(std::string_view text, const std::filesystem::path& source);

// What the kubelet kubeconfig must say.
struct KubeletKubeconfigSpec {
  std::string server;
  std::string ca_pem;  // embedded as certificate-authority-data
  std::optional<std::string> tls_server_name;
  std::filesystem::path client_certificate;
  std::filesystem::path client_key;
};

// The file kubelet writes after TLS bootstrap (writeKubeconfigFromBootstrapping): cluster
// "default-cluster", context "default-context", user "default-auth". Produced by yaml-cpp's
// emitter (values that YAML could read as something else are double-quoted) and read back
// with parse_kubeconfig before it is returned: an error instead of a file that means
// something else.
Expected<std::string> render_kubelet_kubeconfig(const KubeletKubeconfigSpec& spec);

}  // namespace kcd::config
