#include "config/settings.hpp"
#include "base/files.hpp"

#include "base/suggest.hpp"
#include "config/settings_table.hpp"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>
#include "base/yaml.hpp"

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

using detail::in_quotes;
using detail::join;
using detail::RawValue;
using detail::Setting;
using detail::settings_table;

std::vector<std::string> all_keys() {
  std::vector<std::string> keys = {"apiVersion", "kind"};
  for (const auto& s : settings_table()) keys.push_back(s.key);
  return keys;
}

// A position in the settings file; the key is filled in per value.
Location position(const std::string& file, const YAML::Mark& m) {
  return Location{file, m.line >= 0 ? m.line + 1 : 0, m.column >= 0 ? m.column + 1 : 0, ""};
}

Location with_key(Location where, std::string key) {
  where.key = std::move(key);
  return where;
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
Expected<void> apply_defaults(Settings& settings, const Environment& env, const std::string& source) {
  if (settings.node_name.empty()) {
    settings.node_name = default_node_name(env);
    if (auto problem = node_name_problem(settings.node_name)) {
      return Unexpected(config_error(Location{source, 0, 0, "nodeName"},
                                     "the host name " + in_quotes(settings.node_name) +
                                         " is not a valid node name (" + *problem +
                                         "); set nodeName in the settings file or --node-name"));
    }
  }
  if (!settings.serving_dns_names_set) {
    const std::string host = default_node_name(env);
    if (!node_name_problem(host)) settings.serving_dns_names.push_back(host);
  }
  if (!settings.serving_ips_set && env.addresses) settings.serving_ips = env.addresses();
  if (settings.approver_identity.empty()) {
    const std::string host = default_node_name(env);
    settings.approver_identity = node_name_problem(host) ? std::string("kubelet-certd-approver") : host;
  }
  return {};
}

// Applies the YAML document to `settings`: each value is read once, by its row of the table.
Expected<void> apply_yaml(std::string_view text, const std::string& source, const Environment& env,
                          Settings& settings) {
  auto loaded = load_yaml(text, source, ErrorKind::Config);
  if (!loaded) return Unexpected(std::move(loaded.error()));
  YAML::Node root = *loaded;
  if (root.IsNull()) return {};  // empty file or only comments: all defaults
  if (!root.IsMap()) {
    return Unexpected(
        config_error(position(source, root.Mark()),
                     "the file must be a mapping of settings (key: value), not " + node_type_name(root)));
  }
  const detail::ParseContext context{false, env.cwd};
  std::set<std::string> seen;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const YAML::Node k = it->first;  // copies: the iterator yields a temporary pair
    const YAML::Node v = it->second;
    const std::string key = k.IsScalar() ? k.Scalar() : std::string();
    const Location ko = with_key(position(source, k.Mark()), key);
    Location vo = with_key(position(source, v.Mark()), key);
    if (v.IsNull() && v.Mark().line < 0) vo = ko;
    if (!seen.insert(key).second)
      return Unexpected(config_error(ko, "duplicate key \"" + key + "\"; give each setting once"));
    if (key == "apiVersion" || key == "kind") {
      const std::string want(key == "apiVersion" ? kApiVersion : kKind);
      if (!v.IsScalar() || v.Scalar() != want) {
        return Unexpected(config_error(vo, (v.IsScalar() ? in_quotes(v.Scalar()) : node_type_name(v)) +
                                               " is not supported; use " + want));
      }
      continue;
    }
    const Setting* s = detail::find_setting(key);
    if (s == nullptr) {
      std::string msg = "unknown key " + in_quotes(key);
      if (auto near = closest(key, all_keys())) msg += " (did you mean " + *near + "?)";
      msg += "; allowed keys: " + join(all_keys(), ", ");
      return Unexpected(config_error(ko, msg));
    }
    std::vector<RawValue> values;
    if (s->list) {
      if (!v.IsSequence())
        return Unexpected(config_error(vo, "expected a list (- item per line), found " + node_type_name(v)));
      for (std::size_t i = 0; i < v.size(); ++i) {
        const YAML::Node item = v[i];
        const Location io = with_key(position(source, item.Mark()), key);
        if (!item.IsScalar()) return Unexpected(config_error(io, "list items must be single values"));
        values.push_back(RawValue{item.Scalar(), io});
      }
    } else if (s->empty_turns_off && v.IsNull()) {
      // `metricsAddress:` turns it off.
    } else {
      if (!v.IsScalar())
        return Unexpected(config_error(vo, "expected a single value, found " + node_type_name(v)));
      if (!(s->empty_turns_off && v.Scalar().empty())) values.push_back(RawValue{v.Scalar(), vo});
    }
    if (auto r = s->parse(settings, values, context); !r) return r;
    settings.origins.by_key[key] = vo;
  }
  return {};
}

}  // namespace

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

void SettingFlags::add_to(CLI::App& app, SettingScope scope) {
  config_option_ = app.add_option("--config", config_,
                                  "Settings file (default " + std::string(kDefaultConfigFile) +
                                      "; missing default file = all defaults)")
                       ->type_name("PATH");
  for (const auto& s : settings_table()) {
    if (s.scope != scope && s.scope != SettingScope::Both) continue;
    Value& v = values_[s.key];
    std::string help = s.description + " [" + s.key + "; default: " + s.default_text() + "]";
    if (s.type != SettingType::Boolean && s.type != SettingType::Choice && s.type != SettingType::NodeName &&
        !s.allowed.empty())
      help += " (allowed: " + s.allowed + ")";
    if (s.type == SettingType::Boolean) {
      // --serving alone means true; --serving=false turns it off.
      v.option = app.add_option(s.flag, v.values, help)
                     ->expected(0, 1)
                     ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
                     ->type_name("[=true|false]");
    } else if (s.list) {
      v.option = app.add_option(s.flag, v.values, help)
                     ->expected(1)
                     ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                     ->delimiter(',')
                     ->type_name(detail::metavar(s) + ",...");
    } else {
      v.option = app.add_option(s.flag, v.values, help)
                     ->expected(1)
                     ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
                     ->type_name(detail::metavar(s));
    }
  }
}

std::optional<std::string> SettingFlags::config_file() const {
  if (config_option_ != nullptr && config_option_->count() > 0) return config_;
  return std::nullopt;
}

Location SettingOrigins::of(std::string_view key) const {
  auto it = by_key.find(key);
  if (it != by_key.end()) return it->second;
  return Location{"", 0, 0, std::string(key) + " (default)"};
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

Expected<Settings> parse_settings(std::string_view yaml_text, const std::string& source,
                                  const Environment& env) {
  Settings settings;
  if (auto r = apply_yaml(yaml_text, source, env, settings); !r) return Unexpected(r.error());
  if (auto r = apply_defaults(settings, env, source); !r) return Unexpected(r.error());
  return settings;
}

Expected<Settings> load_settings(const SettingFlags& flags, const Environment& env) {
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
      return Unexpected(config_error(
          Location{file.string(), 0, 0, "--config"},
          "the settings file does not exist; create it or leave --config out to use the defaults"));
    }
  } else if (!fs::is_regular_file(st)) {
    return Unexpected(config_error(Location{file.string(), 0, 0, ""}, "not a regular file"));
  } else {
    // The one bounded reader: a FIFO or device put in the file's place is refused, not read.
    auto read = kcd::read_file(file, 1 << 20);
    if (!read) return Unexpected(config_error(Location{file.string(), 0, 0, ""}, read.error().message));
    text = std::move(*read);
    have_file = true;
  }
  if (have_file) {
    if (auto r = apply_yaml(text, file.string(), env, settings); !r) return Unexpected(r.error());
    settings.config_file = file;
  }
  // Flags win over the file.
  const detail::ParseContext context{true, env.cwd};
  for (const auto& s : settings_table()) {
    auto it = flags.values().find(s.key);
    if (it == flags.values().end() || it->second.option == nullptr || it->second.option->count() == 0)
      continue;
    const Location where{"command line", 0, 0, s.flag};
    std::vector<std::string> raw = it->second.values;
    // A bare boolean flag (--serving) means true; CLI11 hands it over as no value or "".
    if (s.type == SettingType::Boolean && (raw.empty() || (raw.size() == 1 && raw.front().empty())))
      raw = {"true"};
    if (!s.list && raw.size() > 1) raw.erase(raw.begin(), raw.end() - 1);
    std::vector<RawValue> values;
    for (const auto& r : raw) {
      if ((s.list || s.empty_turns_off) && r.empty()) continue;
      values.push_back(RawValue{r, where});
    }
    if (values.empty() && !s.list && !s.empty_turns_off) continue;
    if (auto r = s.parse(settings, values, context); !r) return Unexpected(r.error());
    settings.origins.by_key[s.key] = where;
  }
  if (auto r = apply_defaults(settings, env, have_file ? file.string() : "command line"); !r)
    return Unexpected(r.error());
  return settings;
}

}  // namespace kcd::config
