#include "config/settings.hpp"

#include "config/suggest.hpp"

#include <CLI/CLI.hpp>
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

enum class Type { String, Path, Enum, Int, NodeName };

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
  // Stores a validated value into Settings.
  std::function<void(Settings&, const std::string&)> store;
};

const std::vector<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error"};

std::vector<std::string> key_algorithm_names() {
  return std::vector<std::string>(kKeyAlgorithmNames.begin(), kKeyAlgorithmNames.end());
}

const std::vector<Setting>& schema() {
  static const std::vector<Setting> table = {
      {"nodeName", "--node-name", Type::NodeName, "The node's name: the certificate is for system:node:<nodeName>",
       "host name, lowercased", {}, 0, 0, [](Settings& s, const std::string& v) { s.node_name = v; }},
      {"bootstrapKubeconfig", "--bootstrap-kubeconfig", Type::Path,
       "Kubeconfig with the bootstrap token, used when there is no valid client certificate",
       "/etc/kubernetes/bootstrap-kubelet.conf", {}, 0, 0,
       [](Settings& s, const std::string& v) { s.bootstrap_kubeconfig = v; }},
      {"kubeconfig", "--kubeconfig", Type::Path, "The kubelet's kubeconfig, written to point at the current client certificate",
       "/etc/kubernetes/kubelet.conf", {}, 0, 0, [](Settings& s, const std::string& v) { s.kubeconfig = v; }},
      {"certDir", "--cert-dir", Type::Path, "The kubelet's certificate directory", "/var/lib/kubelet/pki", {}, 0, 0,
       [](Settings& s, const std::string& v) { s.cert_dir = v; }},
      {"kubeletConfig", "--kubelet-config", Type::Path, "The kubelet's KubeletConfiguration file",
       "/var/lib/kubelet/config.yaml", {}, 0, 0, [](Settings& s, const std::string& v) { s.kubelet_config = v; }},
      {"keyAlgorithm", "--key-algorithm", Type::Enum, "Algorithm of the private keys generated on the node", "ECDSA-P256",
       key_algorithm_names(), 0, 0,
       [](Settings& s, const std::string& v) { s.key_algorithm = *parse_key_algorithm(v); }},
      {"clientExpirationSeconds", "--client-expiration-seconds", Type::Int,
       "Requested lifetime of the client certificate (spec.expirationSeconds)", "unset (the signer's default)", {}, 600,
       2147483647, [](Settings& s, const std::string& v) { s.client_expiration_seconds = std::stoll(v); }},
      {"logLevel", "--log-level", Type::Enum, "Log verbosity", "info", kLogLevels, 0, 0,
       [](Settings& s, const std::string& v) { s.log_level = v; }},
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

std::string in_quotes(const std::string& v) { return "\"" + v + "\""; }

// Checks `raw` for setting `s` and returns the normalised value, or an error.
Expected<std::string, ConfigError> validate(const Setting& s, const std::string& raw, const Origin& o,
                                            const Environment& env) {
  switch (s.type) {
    case Type::String:
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
          return Unexpected(error_at(o, s, in_quotes(raw) + " is a relative path; give an absolute path (e.g. " +
                                               s.default_text + ")"));
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
        return Unexpected(error_at(o, s, in_quotes(raw) + " is not an integer; use a whole number from " +
                                             std::to_string(s.min) + " to " + std::to_string(s.max)));
      }
      if (v < s.min || v > s.max) {
        return Unexpected(error_at(o, s, std::to_string(v) + " is out of range; use a whole number from " +
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
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Null: return "empty";
    default: return "a scalar";
  }
}

std::string default_node_name(const Environment& env) {
  std::string host = env.host_name ? env.host_name() : std::string();
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host;
}

// Applies the YAML document to `settings`.
std::optional<ConfigError> apply_yaml(std::string_view text, const std::string& source, const Environment& env,
                                      Settings& settings) {
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
      return ConfigError{ko.file, ko.line, ko.column, key, "duplicate key \"" + key + "\"; give each setting once"};
    }
    if (key == "apiVersion" || key == "kind") {
      const std::string want(key == "apiVersion" ? kApiVersion : kKind);
      if (!v.IsScalar() || v.Scalar() != want) {
        return ConfigError{vo.file, vo.line, vo.column, key,
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
    if (!v.IsScalar()) {
      return ConfigError{vo.file, vo.line, vo.column, key, "expected a single value, found " + node_type_name(v)};
    }
    auto checked = validate(*s, v.Scalar(), vo, env);
    if (!checked) return checked.error();
    s->store(settings, *checked);
  }
  return std::nullopt;
}

}  // namespace

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
      if (!std::isalnum(static_cast<unsigned char>(label.front())) || !std::isalnum(static_cast<unsigned char>(label.back()))) {
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
  config_option_ = app.add_option("--config", config_, "Settings file (default " + std::string(kDefaultConfigFile) +
                                                           "; missing default file = all defaults)");
  for (const auto& s : schema()) {
    Value& v = values_[s.key];
    std::string help = s.help + " [" + s.key + "; default: " + s.default_text + "]";
    if (!s.allowed.empty()) help += " {" + join(s.allowed, ",") + "}";
    v.option = app.add_option(s.flag, v.values, help)->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
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
  std::error_code ec;
  env.cwd = fs::current_path(ec);
  return env;
}

Expected<Settings, ConfigError> parse_settings(std::string_view yaml_text, const std::string& source,
                                               const Environment& env) {
  Settings settings;
  if (auto err = apply_yaml(yaml_text, source, env, settings)) return Unexpected(*err);
  if (settings.node_name.empty()) {
    settings.node_name = default_node_name(env);
    if (auto problem = node_name_problem(settings.node_name)) {
      return Unexpected(ConfigError{source, 0, 0, "nodeName",
                                    "the host name " + in_quotes(settings.node_name) + " is not a valid node name (" + *problem +
                                        "); set nodeName in the file or --node-name"});
    }
  }
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
      return Unexpected(ConfigError{file.string(), 0, 0, "--config",
                                    "the settings file does not exist; create it or leave --config out to use the defaults"});
    }
  } else if (!fs::is_regular_file(st)) {
    return Unexpected(ConfigError{file.string(), 0, 0, "", "not a regular file"});
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return Unexpected(ConfigError{file.string(), 0, 0, "", std::string("cannot read: ") + std::strerror(errno)});
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
    if (it == flags.values().end() || it->second.option == nullptr || it->second.option->count() == 0) continue;
    Origin o;
    o.file = "command line";
    o.from_flag = true;
    auto checked = validate(s, it->second.values.back(), o, env);
    if (!checked) return Unexpected(checked.error());
    s.store(settings, *checked);
  }
  if (settings.node_name.empty()) {
    settings.node_name = default_node_name(env);
    if (auto problem = node_name_problem(settings.node_name)) {
      return Unexpected(ConfigError{have_file ? file.string() : "command line", 0, 0, "nodeName",
                                    "the host name " + in_quotes(settings.node_name) + " is not a valid node name (" + *problem +
                                        "); set nodeName in " + file.string() + " or --node-name"});
    }
  }
  return settings;
}

std::string describe_settings_reference() {
  std::string out = "| key | flag | default | meaning |\n|---|---|---|---|\n";
  for (const auto& s : schema()) {
    std::string meaning = s.help;
    if (!s.allowed.empty()) meaning += " (" + join(s.allowed, ", ") + ")";
    if (s.type == Type::Int) meaning += " (" + std::to_string(s.min) + "-" + std::to_string(s.max) + ")";
    out += "| `" + s.key + "` | `" + s.flag + "` | " + s.default_text + " | " + meaning + " |\n";
  }
  out += "| (none) | `--config` | " + std::string(kDefaultConfigFile) + " | this file; a missing default file means all defaults |\n";
  return out;
}

}  // namespace kcd::config
