#include "config/kubeconfig.hpp"
#include "base/files.hpp"

#include <arpa/inet.h>

#include "base/base64.hpp"
#include "base/yaml_text.hpp"

#include "base/yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kcd::config {

namespace fs = std::filesystem;

namespace {

Error err_at(const fs::path& source, const YAML::Node& node, std::string key, std::string message) {
  Location where{source.string(), 0, 0, std::move(key)};
  const YAML::Mark m = node.Mark();
  if (m.line >= 0) {
    where.line = m.line + 1;
    where.column = m.column + 1;
  }
  return config_error(std::move(where), std::move(message));
}

Error err_file(const fs::path& source, std::string key, std::string message) {
  return config_error(Location{source.string(), 0, 0, std::move(key)}, std::move(message));
}

Expected<std::string> read_small_file(const fs::path& path, const fs::path& source, const std::string& key) {
  // The one bounded reader: regular files only, O_NONBLOCK, at most 1 MiB.
  auto read = kcd::read_file(path, 1 << 20);
  if (!read) {
    const Error& e = read.error();
    const std::string why =
        e.kind == ErrorKind::Io ? std::strerror(e.code) : e.message.substr(e.message.find(": ") + 2);
    return Unexpected(err_file(source, key, "cannot read " + path.string() + ": " + why));
  }
  return read;
}

fs::path resolve(const fs::path& p, const fs::path& source) {
  if (p.is_absolute()) return p;
  return (source.parent_path() / p).lexically_normal();
}

// Finds the entry named `name` in a list of {name, <kind>: {...}} (clusters, contexts, users).
Expected<YAML::Node> find_named(const YAML::Node& root, const char* list, const char* kind,
                                const std::string& name, const fs::path& source, const char* referrer) {
  const YAML::Node entries = root[list];
  if (entries && entries.IsSequence()) {
    for (const auto& entry : entries) {
      if (entry.IsMap() && entry["name"] && entry["name"].IsScalar() && entry["name"].Scalar() == name) {
        YAML::Node body = entry[kind];
        if (!body || !body.IsMap()) {
          return Unexpected(
              err_at(source, entry, std::string(list), "entry \"" + name + "\" has no " + kind + " mapping"));
        }
        return body;
      }
    }
  }
  return Unexpected(err_file(source, referrer,
                             std::string(referrer) + " names " + std::string(kind) + " \"" + name +
                                 "\", which is not defined under " + list));
}

std::optional<std::string> scalar(const YAML::Node& map, const char* key) {
  const YAML::Node n = map[key];
  if (!n || !n.IsScalar()) return std::nullopt;
  return n.Scalar();
}

// Base64 field decoding with a positioned error that never echoes the data.
Expected<std::string> decode_field(const YAML::Node& map, const char* key, const fs::path& source) {
  const YAML::Node n = map[key];
  if (!n.IsScalar()) return Unexpected(err_at(source, n, key, "expected a base64 string"));
  auto decoded = base64_decode(n.Scalar());
  if (!decoded || decoded->empty()) return Unexpected(err_at(source, n, key, "is not valid base64"));
  return *decoded;
}

}  // namespace

Expected<Kubeconfig> parse_kubeconfig(std::string_view text, const fs::path& source) {
  auto loaded = load_yaml(text, source.string(), ErrorKind::Config);
  if (!loaded) return Unexpected(std::move(loaded.error()));
  YAML::Node root = *loaded;
  if (!root.IsMap())
    return Unexpected(
        err_file(source, "", "not a kubeconfig (expected a mapping with clusters, contexts, users)"));
  if (auto kind = scalar(root, "kind"); kind && *kind != "Config") {
    return Unexpected(
        err_at(source, root["kind"], "kind", "is \"" + *kind + "\"; a kubeconfig has kind: Config"));
  }
  Kubeconfig kc;
  kc.source = source;
  auto ctx_name = scalar(root, "current-context");
  if (!ctx_name || ctx_name->empty()) {
    return Unexpected(
        err_file(source, "current-context", "is not set; set current-context to one of the contexts"));
  }
  kc.current_context = *ctx_name;
  auto ctx = find_named(root, "contexts", "context", *ctx_name, source, "current-context");
  if (!ctx) return Unexpected(ctx.error());
  auto cluster_name = scalar(*ctx, "cluster");
  auto user_name = scalar(*ctx, "user");
  if (!cluster_name)
    return Unexpected(
        err_at(source, *ctx, "context.cluster", "context \"" + *ctx_name + "\" names no cluster"));
  if (!user_name)
    return Unexpected(err_at(source, *ctx, "context.user", "context \"" + *ctx_name + "\" names no user"));
  kc.cluster_name = *cluster_name;
  kc.user_name = *user_name;
  auto cluster = find_named(root, "clusters", "cluster", *cluster_name, source, "context.cluster");
  if (!cluster) return Unexpected(cluster.error());
  auto user = find_named(root, "users", "user", *user_name, source, "context.user");
  if (!user) return Unexpected(user.error());

  // cluster
  const YAML::Node& c = *cluster;
  auto server = scalar(c, "server");
  if (!server || server->empty()) return Unexpected(err_at(source, c, "cluster.server", "is not set"));
  if (server->rfind("https://", 0) != 0) {
    return Unexpected(
        err_at(source, c["server"], "cluster.server",
               "\"" + *server + "\" is not an https:// URL; the API server must be reached over TLS"));
  }
  auto url = parse_server_url(*server);
  if (!url) return Unexpected(err_at(source, c["server"], "cluster.server", url.error().message));
  kc.server = *url;
  if (auto skip = scalar(c, "insecure-skip-tls-verify");
      skip && (*skip == "true" || *skip == "True" || *skip == "TRUE")) {
    return Unexpected(err_at(
        source, c["insecure-skip-tls-verify"], "cluster.insecure-skip-tls-verify",
        "true is refused: kubelet-certd always verifies the API server; give certificate-authority-data "
        "or certificate-authority instead"));
  }
  if (c["certificate-authority-data"]) {
    auto data = decode_field(c, "certificate-authority-data", source);
    if (!data) return Unexpected(data.error());
    kc.ca_pem = *data;
  } else if (auto ca = scalar(c, "certificate-authority")) {
    fs::path p = resolve(*ca, source);
    auto contents = read_small_file(p, source, "cluster.certificate-authority");
    if (!contents) return Unexpected(contents.error());
    kc.ca_pem = *contents;
    kc.ca_file = p;
  } else {
    return Unexpected(err_at(source, c, "cluster",
                             "has neither certificate-authority-data nor certificate-authority; "
                             "the API server cannot be verified without the cluster CA"));
  }
  if (kc.ca_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return Unexpected(
        err_at(source, c, "cluster.certificate-authority", "does not contain a PEM certificate"));
  }
  kc.tls_server_name = scalar(c, "tls-server-name");

  // user
  const YAML::Node& u = *user;
  for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
    if (u[unsupported]) {
      return Unexpected(
          err_at(source, u[unsupported], std::string("user.") + unsupported,
                 "is not supported by kubelet-certd; use a token, tokenFile or a client certificate"));
    }
  }
  if (auto token = scalar(u, "token"); token && !token->empty()) kc.token = *token;
  if (auto token_file = scalar(u, "tokenFile"); token_file && !kc.token) {
    fs::path p = resolve(*token_file, source);
    auto contents = read_small_file(p, source, "user.tokenFile");
    if (!contents) return Unexpected(contents.error());
    std::string t = *contents;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (t.empty()) return Unexpected(err_file(source, "user.tokenFile", p.string() + " is empty"));
    kc.token = t;
    kc.token_file = p;
  }
  if (u["client-certificate-data"]) {
    auto d = decode_field(u, "client-certificate-data", source);
    if (!d) return Unexpected(d.error());
    kc.client_certificate_pem = *d;
  } else if (auto f = scalar(u, "client-certificate")) {
    kc.client_certificate_file = resolve(*f, source);
  }
  if (u["client-key-data"]) {
    auto d = decode_field(u, "client-key-data", source);
    if (!d) return Unexpected(d.error());
    kc.client_key_pem = *d;
  } else if (auto f = scalar(u, "client-key")) {
    kc.client_key_file = resolve(*f, source);
  }
  const bool has_cert = kc.client_certificate_pem || kc.client_certificate_file;
  const bool has_key = kc.client_key_pem || kc.client_key_file;
  if (has_cert != has_key) {
    return Unexpected(
        err_at(source, u, has_cert ? "user.client-key" : "user.client-certificate",
               "a client certificate needs both client-certificate(-data) and client-key(-data)"));
  }
  return kc;
}

Expected<Kubeconfig> load_kubeconfig(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Unexpected(err_file(path, "", "does not exist"));
  if (!fs::is_regular_file(path, ec)) return Unexpected(err_file(path, "", "is not a regular file"));
  auto text = read_small_file(path, path, "");
  if (!text) return Unexpected(text.error());
  return parse_kubeconfig(*text, path);
}

namespace {

// One string value: plain when every YAML reader reads it as this string, else double-quoted
// (base/yaml_text.hpp).
void emit_value(YAML::Emitter& out, std::string_view key, const std::string& value) {
  out << YAML::Key << std::string(key) << YAML::Value;
  if (kcd::is_plain_yaml_safe(value)) {
    out << value;
  } else {
    out << YAML::DoubleQuoted << value;
  }
}

}  // namespace

Expected<std::string> render_kubelet_kubeconfig(const KubeletKubeconfigSpec& spec) {
  YAML::Emitter out;
  out.SetOutputCharset(YAML::EscapeNonAscii);
  out << YAML::BeginMap;
  emit_value(out, "apiVersion", "v1");
  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
  emit_value(out, "certificate-authority-data", base64_encode(spec.ca_pem));
  emit_value(out, "server", spec.server);
  if (spec.tls_server_name) emit_value(out, "tls-server-name", *spec.tls_server_name);
  out << YAML::EndMap;
  emit_value(out, "name", "default-cluster");
  out << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "context" << YAML::Value << YAML::BeginMap;
  emit_value(out, "cluster", "default-cluster");
  emit_value(out, "namespace", "default");
  emit_value(out, "user", "default-auth");
  out << YAML::EndMap;
  emit_value(out, "name", "default-context");
  out << YAML::EndMap << YAML::EndSeq;
  emit_value(out, "current-context", "default-context");
  emit_value(out, "kind", "Config");
  out << YAML::Key << "preferences" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::EndMap;
  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  emit_value(out, "name", "default-auth");
  out << YAML::Key << "user" << YAML::Value << YAML::BeginMap;
  emit_value(out, "client-certificate", spec.client_certificate.string());
  emit_value(out, "client-key", spec.client_key.string());
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq << YAML::EndMap;
  if (!out.good()) {
    return Unexpected(
        make_error(ErrorKind::Unexpected, "kubelet kubeconfig: emitter failed: " + out.GetLastError()));
  }
  std::string text = std::string(out.c_str()) + "\n";

  // Read back with our own loader before it replaces anything: what the kubelet will read must
  // be what was meant.
  auto back = parse_kubeconfig(text, "<kubelet kubeconfig being written>");
  const auto differs = [](std::string what) {
    return Unexpected(
        make_error(ErrorKind::Unexpected,
                   "kubelet kubeconfig: internal error: the generated file reads back with another " + what +
                       "; nothing was written"));
  };
  if (!back) return differs("meaning (" + back.error().format() + ")");
  if (back->server.text != spec.server) return differs("server");
  if (back->ca_pem != spec.ca_pem) return differs("CA");
  if (back->tls_server_name != spec.tls_server_name) return differs("tls-server-name");
  if (back->client_certificate_file != spec.client_certificate) return differs("client-certificate");
  if (back->client_key_file != spec.client_key) return differs("client-key");
  return text;
}

namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

Expected<ServerUrl> parse_server_url(const std::string& server) {
  const auto bad = [](std::string message) { return Unexpected(config_error({}, std::move(message))); };
  constexpr std::string_view kScheme = "https://";
  const std::string quoted = "\"" + server + "\"";
  if (server.rfind(kScheme, 0) != 0) return bad(quoted + " is not an https:// URL");
  if (server.find_first_of("?#@ \t") != std::string::npos) {
    return bad(quoted +
               ": user info, queries, fragments and spaces are not allowed; write https://host:port[/path]");
  }
  std::string rest = server.substr(kScheme.size());
  ServerUrl u;
  u.text = server;
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) {
    u.path_prefix = rest.substr(slash);
    while (!u.path_prefix.empty() && u.path_prefix.back() == '/') u.path_prefix.pop_back();
  }
  if (authority.empty()) return bad(quoted + " has no host");
  bool port_given = false;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) return bad(quoted + ": unterminated IPv6 address");
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad(quoted + ": expected :port after the IPv6 address");
      u.port = authority.substr(close + 2);
      port_given = true;
    }
    if (!is_ip_literal(u.host)) return bad(quoted + ": \"" + u.host + "\" is not an IPv6 address");
  } else {
    const auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      u.port = authority.substr(colon + 1);
      port_given = true;
    }
    if (u.host.find(':') != std::string::npos)
      return bad(quoted + ": write an IPv6 address in brackets, e.g. https://[::1]:6443");
  }
  if (u.host.empty()) return bad(quoted + " has no host");
  if (!port_given) u.port = "443";
  const bool digits =
      !u.port.empty() && u.port.size() <= 5 && u.port.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || std::stoi(u.port) < 1 || std::stoi(u.port) > 65535) {
    return bad(quoted + ": port \"" + u.port + "\" is not a number from 1 to 65535");
  }
  u.host_is_ip = is_ip_literal(u.host);
  return u;
}

}  // namespace kcd::config
