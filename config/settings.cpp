#include "config/settings.hpp"

#include "base/suggest.hpp"

#include "base/duration.hpp"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace kcd::config {

namespace fs = std::filesystem;

namespace {

enum class Type {
  String,
  Path,
  Enum,
  Int,
  NodeName,
  Bool,
  Duration,
  Window,
  IpList,
  DnsList,
  Address,
  OptionalPath
};

bool is_list(Type t) {
  return t == Type::IpList || t == Type::DnsList;
}

// Where a raw value came from, for error messages.
struct Origin {
  std::string file;  // path or "command line"
  int line = 0;
  int column = 0;
  bool from_flag = false;
};

struct Setting {
  std::string key;
  std::string flag;
  Type type;
  std::string help;
  std::string default_text;
  std::vector<std::string> allowed;  // Enum
  std::int64_t min = 0, max = 0;     // Int
  // Stores validated values (one for scalars) into Settings.
  std::function<void(Settings&, const std::vector<std::string>&)> store;
};

const std::vector<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error"};

std::vector<std::string> key_algorithm_names() {
  return std::vector<std::string>(kKeyAlgorithmNames.begin(), kKeyAlgorithmNames.end());
}

const std::vector<Setting>& schema() {
  using V = std::vector<std::string>;
  static const std::vector<Setting> table = {
      {"nodeName",
       "--node-name",
       Type::NodeName,
       "The node's name: the certificates are for system:node:<nodeName>",
       "host name, lowercased",
       {},
       0,
       0,
       [](Settings& s, const V& v) { s.node_name = v.front(); }},
      {"bootstrapKubeconfig",
       "--bootstrap-kubeconfig",
       Type::Path,
       "Kubeconfig with the bootstrap token, used when there is no valid client certificate",
       "/etc/kubernetes/bootstrap-kubelet.conf",
       {},
       0,
       0,
       [](Settings& s, const V& v) { s.bootstrap_kubeconfig = v.front(); }},
      {"kubeconfig",
       "--kubeconfig",
       Type::Path,
       "The kubelet's kubeconfig, written to point at the current client certificate",
       "/etc/kubernetes/kubelet.conf",
       {},
       0,
       0,
       [](Settings& s, const V& v) { s.kubeconfig = v.front(); }},
      {"certDir",
       "--cert-dir",
       Type::Path,
       "The kubelet's certificate directory",
       "/var/lib/kubelet/pki",
       {},
       0,
       0,
       [](Settings& s, const V& v) { s.cert_dir = v.front(); }},
      {"kubeletConfig",
       "--kubelet-config",
       Type::Path,
       "The kubelet's KubeletConfiguration file",
       "/var/lib/kubelet/config.yaml",
       {},
       0,
       0,
       [](Settings& s, const V& v) { s.kubelet_config = v.front(); }},
      {"keyAlgorithm", "--key-algorithm", Type::Enum, "Algorithm of the private keys generated on the node",
       "ECDSA-P256", key_algorithm_names(), 0, 0,
       [](Settings& s, const V& v) { s.key_algorithm = *parse_key_algorithm(v.front()); }},
      {"clientExpirationSeconds",
       "--client-expiration-seconds",
       Type::Int,
       "Requested lifetime of the client certificate (spec.expirationSeconds)",
       "unset (the signer's default)",
       {},
       600,
       2147483647,
       [](Settings& s, const V& v) { s.client_expiration_seconds = std::stoll(v.front()); }},
      {"rotationWindow",
       "--rotation-window",
       Type::Window,
       "Part of a certificate's lifetime (from notBefore) in which it is rotated, at a random point",
       "70%-90%",
       {},
       0,
       0,
       [](Settings& s, const V& v) {
         const auto dash = v.front().find('-');
         s.rotation_window_from = std::stod(v.front().substr(0, dash)) / 100.0;
         s.rotation_window_to = std::stod(v.front().substr(dash + 1)) / 100.0;
       }},
      {"csrCreateInterval",
       "--csr-create-interval",
       Type::Duration,
       "After a denied, failed or vanished CSR, at most one new CSR per this interval",
       "1h",
       {},
       1,
       30LL * 24 * 3600,
       [](Settings& s, const V& v) { s.csr_create_interval = std::chrono::seconds(std::stoll(v.front())); }},
      {"keepCertificates",
       "--keep-certificates",
       Type::Int,
       "Timestamped certificate files kept per certificate",
       "3",
       {},
       1,
       100,
       [](Settings& s, const V& v) { s.keep_certificates = std::stoi(v.front()); }},
      {"serving",
       "--serving",
       Type::Bool,
       "Obtain and rotate the serving certificate (kubernetes.io/kubelet-serving)",
       "true",
       {},
       0,
       0,
       [](Settings& s, const V& v) { s.serving = v.front() == "true"; }},
      {"servingIPs",
       "--serving-ip",
       Type::IpList,
       "IP address SANs of the serving certificate (repeatable)",
       "the host's non-loopback addresses",
       {},
       0,
       0,
       [](Settings& s, const V& v) {
         s.serving_ips = v;
         s.serving_ips_set = true;
       }},
      {"servingDNSNames",
       "--serving-dns-name",
       Type::DnsList,
       "DNS name SANs of the serving certificate (repeatable)",
       "the host name, lowercased",
       {},
       0,
       0,
       [](Settings& s, const V& v) {
         s.serving_dns_names = v;
         s.serving_dns_names_set = true;
       }},
      {"servingExpirationSeconds",
       "--serving-expiration-seconds",
       Type::Int,
       "Requested lifetime of the serving certificate (spec.expirationSeconds)",
       "unset (the signer's default)",
       {},
       600,
       2147483647,
       [](Settings& s, const V& v) { s.serving_expiration_seconds = std::stoll(v.front()); }},
      {"kubeletRestart",
       "--kubelet-restart",
       Type::Enum,
       "When the kubelet is restarted (never one that is not running): auto restarts it after a change "
       "to its config file and after a new serving certificate if it is older than 1.31 (which does "
       "not reload it), always after both, never restarts nothing and logs the command to run",
       "auto",
       {"auto", "always", "never"},
       0,
       0,
       [](Settings& s, const V& v) {
         s.kubelet_restart = v.front() == "always"  ? KubeletRestart::Always
                             : v.front() == "never" ? KubeletRestart::Never
                                                    : KubeletRestart::Auto;
       }},
      {"kubeletUnit",
       "--kubelet-unit",
       Type::String,
       "The kubelet's systemd unit: restarted over D-Bus (TryRestartUnit) and checked; its ExecStart= names "
       "the kubelet",
       "kubelet.service",
       {},
       0,
       0,
       [](Settings& s, const V& v) { s.kubelet_unit = v.front(); }},
      {"kubeletPath",
       "--kubelet-path",
       Type::OptionalPath,
       "The kubelet binary whose version decides what is written to its config file (default: the running "
       "kubelet, "
       "else the ExecStart= of kubeletUnit)",
       "detected",
       {},
       0,
       0,
       [](Settings& s, const V& v) {
         s.kubelet_path = v.empty() ? std::filesystem::path() : std::filesystem::path(v.front());
       }},
      {"kubeletHealthTimeout",
       "--kubelet-health-timeout",
       Type::Duration,
       "After a kubelet config change and restart: how long the kubelet has to be active (running) and "
       "answer healthz "
       "before the change is rolled back",
       "90s",
       {},
       10,
       30 * 60,
       [](Settings& s, const V& v) {
         s.kubelet_health_timeout = std::chrono::seconds(std::stoll(v.front()));
       }},
      {"patchKubeletConfig",
       "--patch-kubelet-config",
       Type::Bool,
       "Patch kubeletConfig: serving certificate files, client CA, hardening (comments and order kept)",
       "true",
       {},
       0,
       0,
       [](Settings& s, const V& v) { s.patch_kubelet_config = v.front() == "true"; }},
      {"hardening",
       "--hardening",
       Type::Enum,
       "What the patch enforces besides the certificate files: cis (the CIS kubelet settings), minimal "
       "(anonymous auth off, "
       "Webhook authorization), off",
       "cis",
       {"cis", "minimal", "off"},
       0,
       0,
       [](Settings& s, const V& v) {
         s.hardening = v.front() == "minimal" ? Hardening::Minimal
                       : v.front() == "off"   ? Hardening::Off
                                              : Hardening::Cis;
       }},
      {"clientCAFile",
       "--client-ca-file",
       Type::Path,
       "The kubelet's client CA file (authentication.x509.clientCAFile); written from the kubeconfig's CA "
       "when absent",
       "/etc/kubernetes/pki/ca.crt",
       {},
       0,
       0,
       [](Settings& s, const V& v) { s.client_ca_file = v.front(); }},
      {"metricsAddress",
       "--metrics-address",
       Type::Address,
       "Prometheus metrics on this loopback host:port (empty disables)",
       "127.0.0.1:10271",
       {},
       0,
       0,
       [](Settings& s, const V& v) { s.metrics_address = v.empty() ? std::string() : v.front(); }},
      {"metricsTextfile",
       "--metrics-textfile",
       Type::OptionalPath,
       "Also write the metrics to this file, atomically (node_exporter textfile collector)",
       "none",
       {},
       0,
       0,
       [](Settings& s, const V& v) {
         s.metrics_textfile = v.empty() ? std::filesystem::path() : std::filesystem::path(v.front());
       }},
      {"logLevel", "--log-level", Type::Enum, "Log verbosity", "info", kLogLevels, 0, 0,
       [](Settings& s, const V& v) { s.log_level = v.front(); }},
  };
  return table;
}

std::vector<std::string> all_keys() {
  std::vector<std::string> keys = {"apiVersion", "kind"};
  for (const auto& s : schema()) keys.push_back(s.key);
  return keys;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

ConfigError error_at(const Origin& o, const Setting& s, std::string message) {
  ConfigError e;
  e.file = o.file;
  e.line = o.line;
  e.column = o.column;
  e.key = o.from_flag ? s.flag : s.key;
  e.message = std::move(message);
  return e;
}

std::string in_quotes(const std::string& v) {
  return "\"" + v + "\"";
}

// Checks `raw` for setting `s` and returns the normalised value, or an error.
Expected<std::string, ConfigError> validate(const Setting& s, const std::string& raw, const Origin& o,
                                            const Environment& env) {
  switch (s.type) {
    case Type::String:
      if (raw.empty()) return Unexpected(error_at(o, s, "must not be empty"));
      return raw;
    case Type::Bool: {
      std::string v = raw;
      for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (v == "true" || v == "false") return v;
      return Unexpected(error_at(o, s, in_quotes(raw) + " is not a boolean; use true or false"));
    }
    case Type::Duration: {
      auto d = parse_duration(raw);
      if (!d) return Unexpected(error_at(o, s, d.error()));
      const auto secs = std::chrono::duration_cast<std::chrono::seconds>(*d).count();
      if (secs < s.min || secs > s.max) {
        return Unexpected(error_at(o, s,
                                   in_quotes(raw) + " is out of range; use " +
                                       format_duration(std::chrono::seconds(s.min)) + " to " +
                                       format_duration(std::chrono::seconds(s.max))));
      }
      return std::to_string(secs);
    }
    case Type::Window: {
      // "70%-90%" (or "70-90"): percentages of the lifetime.
      std::string v = raw;
      v.erase(std::remove(v.begin(), v.end(), '%'), v.end());
      v.erase(std::remove(v.begin(), v.end(), ' '), v.end());
      const auto dash = v.find('-');
      char* end1 = nullptr;
      char* end2 = nullptr;
      const std::string a = dash == std::string::npos ? v : v.substr(0, dash);
      const std::string b = dash == std::string::npos ? "" : v.substr(dash + 1);
      const double from = std::strtod(a.c_str(), &end1);
      const double to = std::strtod(b.c_str(), &end2);
      if (dash == std::string::npos || a.empty() || b.empty() || *end1 != '\0' || *end2 != '\0' ||
          from <= 0 || to >= 100 || from > to) {
        return Unexpected(error_at(
            o, s,
            in_quotes(raw) + " is not a window; write FROM%-TO% with 0 < FROM <= TO < 100, e.g. 70%-90%"));
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g-%g", from, to);
      return std::string(buf);
    }
    case Type::IpList: {
      unsigned char bin[16];
      char text[INET6_ADDRSTRLEN];
      if (inet_pton(AF_INET, raw.c_str(), bin) == 1)
        return std::string(inet_ntop(AF_INET, bin, text, sizeof text));
      if (inet_pton(AF_INET6, raw.c_str(), bin) == 1)
        return std::string(inet_ntop(AF_INET6, bin, text, sizeof text));
      return Unexpected(error_at(o, s, in_quotes(raw) + " is not an IPv4 or IPv6 address"));
    }
    case Type::OptionalPath:
      if (raw.empty()) return std::string();
      return validate(Setting{s.key, s.flag, Type::Path, s.help, s.default_text, {}, 0, 0, s.store}, raw, o,
                      env);
    case Type::Address: {
      // host:port on loopback (the metrics carry nothing secret, but stay off the network).
      if (raw.empty()) return std::string();
      const auto colon = raw.rfind(':');
      std::string host = colon == std::string::npos ? "" : raw.substr(0, colon);
      const std::string port = colon == std::string::npos ? "" : raw.substr(colon + 1);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
      char* end = nullptr;
      const long p = std::strtol(port.c_str(), &end, 10);
      if (port.empty() || *end != '\0' || p < 1 || p > 65535) {
        return Unexpected(
            error_at(o, s, in_quotes(raw) + " is not host:port (e.g. 127.0.0.1:10271; empty disables)"));
      }
      if (host != "127.0.0.1" && host != "::1" && host != "localhost") {
        return Unexpected(
            error_at(o, s, in_quotes(raw) + ": metrics are served on loopback only; use 127.0.0.1 or ::1"));
      }
      return raw;
    }
    case Type::DnsList:
      if (auto problem = node_name_problem(raw)) {
        return Unexpected(error_at(o, s, in_quotes(raw) + " is not a valid DNS name: " + *problem));
      }
      return raw;
    case Type::NodeName:
      if (auto problem = node_name_problem(raw)) {
        return Unexpected(error_at(o, s, in_quotes(raw) + " is not a valid node name: " + *problem));
      }
      return raw;
    case Type::Path: {
      if (raw.empty()) return Unexpected(error_at(o, s, "must not be empty; give an absolute path"));
      fs::path p(raw);
      if (!p.is_absolute()) {
        if (!o.from_flag) {
          return Unexpected(error_at(
              o, s,
              in_quotes(raw) + " is a relative path; give an absolute path (e.g. " + s.default_text + ")"));
        }
        p = env.cwd / p;
      }
      return p.lexically_normal().string();
    }
    case Type::Enum: {
      if (std::find(s.allowed.begin(), s.allowed.end(), raw) != s.allowed.end()) return raw;
      std::string msg = in_quotes(raw) + " is not allowed; use one of " + join(s.allowed, ", ");
      if (auto near = closest(raw, s.allowed)) msg += " (did you mean " + *near + "?)";
      return Unexpected(error_at(o, s, msg));
    }
    case Type::Int: {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(raw.c_str(), &end, 10);
      if (raw.empty() || end == nullptr || *end != '\0' || errno == ERANGE) {
        return Unexpected(error_at(o, s,
                                   in_quotes(raw) + " is not an integer; use a whole number from " +
                                       std::to_string(s.min) + " to " + std::to_string(s.max)));
      }
      if (v < s.min || v > s.max) {
        return Unexpected(error_at(o, s,
                                   std::to_string(v) + " is out of range; use a whole number from " +
                                       std::to_string(s.min) + " to " + std::to_string(s.max)));
      }
      return std::to_string(v);
    }
  }
  return raw;
}

Origin origin_of(const std::string& file, const YAML::Mark& m) {
  Origin o;
  o.file = file;
  o.line = m.line >= 0 ? m.line + 1 : 0;
  o.column = m.column >= 0 ? m.column + 1 : 0;
  return o;
}

std::string node_type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "empty";
    default:
      return "a scalar";
  }
}

std::string default_node_name(const Environment& env) {
  std::string host = env.host_name ? env.host_name() : std::string();
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host;
}

// Defaults that depend on the host: node name, serving SANs.
std::optional<ConfigError> apply_defaults(Settings& settings, const Environment& env,
                                          const std::string& source) {
  if (settings.node_name.empty()) {
    settings.node_name = default_node_name(env);
    if (auto problem = node_name_problem(settings.node_name)) {
      return ConfigError{source, 0, 0, "nodeName",
                         "the host name " + in_quotes(settings.node_name) + " is not a valid node name (" +
                             *problem + "); set nodeName in the settings file or --node-name"};
    }
  }
  if (!settings.serving_dns_names_set) {
    const std::string host = default_node_name(env);
    if (!node_name_problem(host)) settings.serving_dns_names.push_back(host);
  }
  if (!settings.serving_ips_set && env.addresses) settings.serving_ips = env.addresses();
  return std::nullopt;
}

// Applies the YAML document to `settings`.
std::optional<ConfigError> apply_yaml(std::string_view text, const std::string& source,
                                      const Environment& env, Settings& settings) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    ConfigError err;
    err.file = source;
    err.line = e.mark.line + 1;
    err.column = e.mark.column + 1;
    err.message = "invalid YAML: " + e.msg;
    return err;
  }
  if (root.IsNull()) return std::nullopt;  // empty file or only comments: all defaults
  if (!root.IsMap()) {
    ConfigError err;
    auto o = origin_of(source, root.Mark());
    err.file = o.file;
    err.line = o.line;
    err.column = o.column;
    err.message = "the file must be a mapping of settings (key: value), not " + node_type_name(root);
    return err;
  }
  std::set<std::string> seen;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const YAML::Node k = it->first;  // copies: the iterator yields a temporary pair
    const YAML::Node v = it->second;
    const std::string key = k.IsScalar() ? k.Scalar() : std::string();
    Origin ko = origin_of(source, k.Mark());
    Origin vo = origin_of(source, v.Mark());
    if (v.IsNull() && v.Mark().line < 0) vo = ko;
    if (!seen.insert(key).second) {
      return ConfigError{ko.file, ko.line, ko.column, key,
                         "duplicate key \"" + key + "\"; give each setting once"};
    }
    if (key == "apiVersion" || key == "kind") {
      const std::string want(key == "apiVersion" ? kApiVersion : kKind);
      if (!v.IsScalar() || v.Scalar() != want) {
        return ConfigError{
            vo.file, vo.line, vo.column, key,
            (v.IsScalar() ? in_quotes(v.Scalar()) : node_type_name(v)) + " is not supported; use " + want};
      }
      continue;
    }
    auto s = std::find_if(schema().begin(), schema().end(), [&](const Setting& x) { return x.key == key; });
    if (s == schema().end()) {
      std::string msg = "unknown key " + in_quotes(key);
      if (auto near = closest(key, all_keys())) msg += " (did you mean " + *near + "?)";
      msg += "; allowed keys: " + join(all_keys(), ", ");
      return ConfigError{ko.file, ko.line, ko.column, key, msg};
    }
    std::vector<std::string> values;
    if (is_list(s->type)) {
      if (!v.IsSequence()) {
        return ConfigError{vo.file, vo.line, vo.column, key,
                           "expected a list (- item per line), found " + node_type_name(v)};
      }
      for (std::size_t i = 0; i < v.size(); ++i) {
        const YAML::Node item = v[i];
        Origin io = origin_of(source, item.Mark());
        if (!item.IsScalar())
          return ConfigError{io.file, io.line, io.column, key, "list items must be single values"};
        auto checked = validate(*s, item.Scalar(), io, env);
        if (!checked) return checked.error();
        values.push_back(*checked);
      }
    } else if ((s->type == Type::Address || s->type == Type::OptionalPath) && v.IsNull()) {
      // `metricsAddress:` / `metricsAddress: ""` turns it off.
    } else {
      if (!v.IsScalar()) {
        return ConfigError{vo.file, vo.line, vo.column, key,
                           "expected a single value, found " + node_type_name(v)};
      }
      auto checked = validate(*s, v.Scalar(), vo, env);
      if (!checked) return checked.error();
      if (!checked->empty() || (s->type != Type::Address && s->type != Type::OptionalPath))
        values.push_back(*checked);
    }
    s->store(settings, values);
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(Hardening h) {
  switch (h) {
    case Hardening::Cis:
      return "cis";
    case Hardening::Minimal:
      return "minimal";
    case Hardening::Off:
      return "off";
  }
  return "?";
}

std::string_view to_string(KubeletRestart r) {
  switch (r) {
    case KubeletRestart::Auto:
      return "auto";
    case KubeletRestart::Always:
      return "always";
    case KubeletRestart::Never:
      return "never";
  }
  return "?";
}

std::string ConfigError::format() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  out += ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

std::optional<std::string> node_name_problem(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.size() > 253) return "it is longer than 253 characters";
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      std::string_view label = name.substr(label_start, i - label_start);
      if (label.empty()) return "it has an empty label (two dots, or a leading/trailing dot)";
      if (label.size() > 63) return "the label \"" + std::string(label) + "\" is longer than 63 characters";
      if (!std::isalnum(static_cast<unsigned char>(label.front())) ||
          !std::isalnum(static_cast<unsigned char>(label.back()))) {
        return "each label must start and end with a lowercase letter or digit";
      }
      label_start = i + 1;
      continue;
    }
    const char c = name[i];
    if (c >= 'A' && c <= 'Z') return "it has uppercase letters (node names are lowercase)";
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return std::string("it contains '") + c + "' (allowed: lowercase letters, digits, '-' and '.')";
    }
  }
  return std::nullopt;
}

void SettingFlags::add_to(CLI::App& app) {
  config_option_ = app.add_option(
      "--config", config_,
      "Settings file (default " + std::string(kDefaultConfigFile) + "; missing default file = all defaults)");
  for (const auto& s : schema()) {
    Value& v = values_[s.key];
    std::string help = s.help + " [" + s.key + "; default: " + s.default_text + "]";
    if (!s.allowed.empty()) help += " {" + join(s.allowed, ",") + "}";
    if (s.type == Type::Bool) {
      // --serving alone means true; --serving=false turns it off.
      v.option = app.add_option(s.flag, v.values, help)
                     ->expected(0, 1)
                     ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    } else if (is_list(s.type)) {
      v.option = app.add_option(s.flag, v.values, help)
                     ->expected(1)
                     ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                     ->delimiter(',');
    } else {
      v.option = app.add_option(s.flag, v.values, help)
                     ->expected(1)
                     ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }
}

std::optional<std::string> SettingFlags::config_file() const {
  if (config_option_ != nullptr && config_option_->count() > 0) return config_;
  return std::nullopt;
}

Environment system_environment() {
  Environment env;
  env.host_name = [] {
    char buf[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buf, sizeof buf) != 0) return std::string();
    return std::string(buf);
  };
  env.addresses = [] {
    std::vector<std::string> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return out;
    for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr || (a->ifa_flags & IFF_UP) == 0 || (a->ifa_flags & IFF_LOOPBACK) != 0)
        continue;
      char text[INET6_ADDRSTRLEN] = {};
      if (a->ifa_addr->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
        const uint32_t ip = ntohl(in->sin_addr.s_addr);
        if ((ip >> 24) == 127 || (ip >> 16) == 0xa9fe) continue;  // loopback, link-local
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      } else if (a->ifa_addr->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) || IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr)) continue;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
      } else {
        continue;
      }
      if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(text);
    }
    ::freeifaddrs(list);
    return out;
  };
  std::error_code ec;
  env.cwd = fs::current_path(ec);
  return env;
}

Expected<Settings, ConfigError> parse_settings(std::string_view yaml_text, const std::string& source,
                                               const Environment& env) {
  Settings settings;
  if (auto err = apply_yaml(yaml_text, source, env, settings)) return Unexpected(*err);
  if (auto err = apply_defaults(settings, env, source)) return Unexpected(*err);
  return settings;
}

Expected<Settings, ConfigError> load_settings(const SettingFlags& flags, const Environment& env) {
  Settings settings;
  const auto explicit_file = flags.config_file();
  fs::path file = explicit_file ? fs::path(*explicit_file) : fs::path(kDefaultConfigFile);
  if (explicit_file && file.is_relative()) file = env.cwd / file;
  std::error_code ec;
  const auto st = fs::status(file, ec);
  std::string text;
  bool have_file = false;
  if (!fs::exists(st)) {
    if (explicit_file) {
      return Unexpected(ConfigError{
          file.string(), 0, 0, "--config",
          "the settings file does not exist; create it or leave --config out to use the defaults"});
    }
  } else if (!fs::is_regular_file(st)) {
    return Unexpected(ConfigError{file.string(), 0, 0, "", "not a regular file"});
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return Unexpected(
          ConfigError{file.string(), 0, 0, "", std::string("cannot read: ") + std::strerror(errno)});
    }
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    have_file = true;
  }
  if (have_file) {
    if (auto err = apply_yaml(text, file.string(), env, settings)) return Unexpected(*err);
    settings.config_file = file;
  }
  // Flags win over the file.
  for (const auto& s : schema()) {
    auto it = flags.values().find(s.key);
    if (it == flags.values().end() || it->second.option == nullptr || it->second.option->count() == 0)
      continue;
    Origin o;
    o.file = "command line";
    o.from_flag = true;
    std::vector<std::string> raw = it->second.values;
    // A bare boolean flag (--serving) means true; CLI11 hands it over as no value or "".
    if (s.type == Type::Bool && (raw.empty() || (raw.size() == 1 && raw.front().empty()))) raw = {"true"};
    if (!is_list(s.type) && raw.size() > 1) raw.erase(raw.begin(), raw.end() - 1);
    std::vector<std::string> values;
    for (const auto& r : raw) {
      if ((is_list(s.type) || s.type == Type::Address || s.type == Type::OptionalPath) && r.empty()) continue;
      auto checked = validate(s, r, o, env);
      if (!checked) return Unexpected(checked.error());
      values.push_back(*checked);
    }
    if (values.empty() && !is_list(s.type) && s.type != Type::Address && s.type != Type::OptionalPath)
      continue;
    s.store(settings, values);
  }
  if (auto err = apply_defaults(settings, env, have_file ? file.string() : "command line"))
    return Unexpected(*err);
  return settings;
}

std::string describe_settings_reference() {
  std::string out = "| key | flag | default | meaning |\n|---|---|---|---|\n";
  for (const auto& s : schema()) {
    std::string meaning = s.help;
    if (!s.allowed.empty()) meaning += " (" + join(s.allowed, ", ") + ")";
    if (s.type == Type::Int) meaning += " (" + std::to_string(s.min) + "-" + std::to_string(s.max) + ")";
    if (is_list(s.type)) meaning += "; a YAML list in the file, the flag repeatable or comma-separated";
    out += "| `" + s.key + "` | `" + s.flag + "` | " + s.default_text + " | " + meaning + " |\n";
  }
  out += "| (none) | `--config` | " + std::string(kDefaultConfigFile) +
         " | this file; a missing default file means all defaults |\n";
  return out;
}

}  // namespace kcd::config
