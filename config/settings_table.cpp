#include "config/settings_table.hpp"

#include "base/cidr.hpp"
#include "base/duration.hpp"
#include "base/number.hpp"
#include "base/regex_bounds.hpp"
#include "base/suggest.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>
#include <stdexcept>

namespace kcd::config {

namespace fs = std::filesystem;

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

std::string_view to_string(LogLevel l) {
  switch (l) {
    case LogLevel::Trace:
      return "trace";
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "?";
}

std::string ListenAddress::text() const {
  return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

bool SettingInfo::numeric() const {
  return type == SettingType::Integer || type == SettingType::Duration ||
         type == SettingType::PercentWindow || type == SettingType::ListenAddress;
}

namespace detail {

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

std::string metavar(const Setting& s) {
  switch (s.type) {
    case SettingType::Path:
    case SettingType::OptionalPath:
      return "PATH";
    case SettingType::NodeName:
    case SettingType::DnsList:
      return "NAME";
    case SettingType::Choice:
      return join(s.choices, "|");
    case SettingType::Boolean:
      return "true|false";
    case SettingType::Integer:
      return "N";
    case SettingType::Duration:
      return "DURATION";
    case SettingType::PercentWindow:
      return "FROM%-TO%";
    case SettingType::IpList:
      return "IP";
    case SettingType::ListenAddress:
      return "HOST:PORT";
    case SettingType::Text:
      return "TEXT";
    case SettingType::Pattern:
      return "REGEX";
    case SettingType::CidrList:
      return "CIDR";
  }
  return "VALUE";
}

std::string in_quotes(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

namespace {

using Values = std::vector<RawValue>;

Error at(const RawValue& v, std::string message) {
  return config_error(v.where, std::move(message));
}

// An error of a base/ parser (no location), placed at the value it came from.
Error placed(Error e, const RawValue& v) {
  e.where = v.where;
  return e;
}

Setting row(std::string key, std::string flag, SettingType type, std::string description) {
  Setting s;
  s.key = std::move(key);
  s.flag = std::move(flag);
  s.type = type;
  s.description = std::move(description);
  return s;
}

Expected<fs::path> read_path(const RawValue& v, const ParseContext& c, const std::string& example) {
  if (v.text.empty()) return Unexpected(at(v, "must not be empty; give an absolute path"));
  fs::path p(v.text);
  if (!p.is_absolute()) {
    if (!c.from_flag) {
      return Unexpected(
          at(v, in_quotes(v.text) + " is a relative path; give an absolute path (e.g. " + example + ")"));
    }
    p = c.cwd / p;
  }
  return p.lexically_normal();
}

Setting path_setting(std::string key, std::string flag, fs::path Settings::*field, std::string default_value,
                     std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::Path, std::move(description));
  s.default_value = default_value;
  s.parse = [field, default_value](Settings& out, const Values& v, const ParseContext& c) -> Expected<void> {
    auto p = read_path(v.front(), c, default_value);
    if (!p) return Unexpected(p.error());
    out.*field = *p;
    return {};
  };
  return s;
}

// A path that may be left empty: none (metricsTextfile) or detected (kubeletPath).
Setting optional_path_setting(std::string key, std::string flag, fs::path Settings::*field,
                              std::string default_doc, std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::OptionalPath, std::move(description));
  s.default_doc = default_doc;
  s.empty_turns_off = true;
  s.parse = [field, default_doc](Settings& out, const Values& v, const ParseContext& c) -> Expected<void> {
    if (v.empty() || v.front().text.empty()) {
      out.*field = fs::path();
      return {};
    }
    auto p = read_path(v.front(), c, default_doc);
    if (!p) return Unexpected(p.error());
    out.*field = *p;
    return {};
  };
  return s;
}

Setting text_setting(std::string key, std::string flag, std::string Settings::*field,
                     std::string default_value, std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::Text, std::move(description));
  s.default_value = std::move(default_value);
  s.parse = [field](Settings& out, const Values& v, const ParseContext&) -> Expected<void> {
    if (v.front().text.empty()) return Unexpected(at(v.front(), "must not be empty"));
    out.*field = v.front().text;
    return {};
  };
  return s;
}

// A name with the rules of a node name (RFC 1123 DNS subdomain): the node's, or the approver's
// Lease holder identity. `what` names it in errors.
Setting node_name_setting(std::string key, std::string flag, std::string Settings::*field, std::string what,
                          std::string default_doc, std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::NodeName, std::move(description));
  s.default_doc = std::move(default_doc);
  s.allowed = "a DNS subdomain (RFC 1123): lowercase letters, digits, '-' and '.'";
  s.parse = [field, what](Settings& out, const Values& v, const ParseContext&) -> Expected<void> {
    if (auto problem = node_name_problem(v.front().text))
      return Unexpected(
          at(v.front(), in_quotes(v.front().text) + " is not a valid " + what + ": " + *problem));
    out.*field = v.front().text;
    return {};
  };
  return s;
}

template <class E>
Setting choice_setting(std::string key, std::string flag, E Settings::*field, std::vector<E> values,
                       std::string default_value, std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::Choice, std::move(description));
  s.default_value = std::move(default_value);
  for (E e : values) s.choices.emplace_back(to_string(e));
  s.allowed = join(s.choices, ", ");
  s.parse = [field, values, choices = s.choices](Settings& out, const Values& v,
                                                 const ParseContext&) -> Expected<void> {
    const std::string& text = v.front().text;
    for (std::size_t i = 0; i < choices.size(); ++i) {
      if (choices[i] == text) {
        out.*field = values[i];
        return {};
      }
    }
    std::string message = in_quotes(text) + " is not allowed; use one of " + join(choices, ", ");
    if (auto near = closest(text, choices)) message += " (did you mean " + *near + "?)";
    return Unexpected(at(v.front(), message));
  };
  return s;
}

Setting bool_setting(std::string key, std::string flag, bool Settings::*field, std::string default_value,
                     std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::Boolean, std::move(description));
  s.default_value = std::move(default_value);
  s.allowed = "true, false";
  s.parse = [field](Settings& out, const Values& v, const ParseContext&) -> Expected<void> {
    std::string lower = v.front().text;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower != "true" && lower != "false")
      return Unexpected(at(v.front(), in_quotes(v.front().text) + " is not a boolean; use true or false"));
    out.*field = lower == "true";
    return {};
  };
  return s;
}

// A whole number within [min, max], into an int or an optional<int64_t> (unset by default).
template <class Field>
Setting whole_number_setting(std::string key, std::string flag, Field Settings::*field,
                             std::optional<std::string> default_value, std::string default_doc,
                             std::int64_t min, std::int64_t max, std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::Integer, std::move(description));
  s.default_value = std::move(default_value);
  s.default_doc = std::move(default_doc);
  s.allowed = std::to_string(min) + "-" + std::to_string(max);
  s.parse = [field, min, max](Settings& out, const Values& v, const ParseContext&) -> Expected<void> {
    auto n = parse_whole_number(v.front().text, min, max);
    if (!n) return Unexpected(placed(n.error(), v.front()));
    if constexpr (std::is_same_v<Field, int>) {
      out.*field = static_cast<int>(*n);
    } else {
      out.*field = *n;
    }
    return {};
  };
  return s;
}

// A duration of whole seconds within [min, max]: "90s", "5m", "1h30m".
Setting duration_setting(std::string key, std::string flag, std::chrono::seconds Settings::*field,
                         std::string default_value, std::chrono::seconds min, std::chrono::seconds max,
                         std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::Duration, std::move(description));
  s.default_value = std::move(default_value);
  s.allowed = format_duration(min) + "-" + format_duration(max);
  s.parse = [field, min, max](Settings& out, const Values& v, const ParseContext&) -> Expected<void> {
    const std::string& text = v.front().text;
    const std::string range = "use " + format_duration(min) + " to " + format_duration(max);
    auto d = parse_duration(text);
    if (!d) return Unexpected(placed(d.error(), v.front()));
    if (d->count() % 1000 != 0)
      return Unexpected(at(v.front(), in_quotes(text) + " is not a whole number of seconds; " + range));
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(*d);
    if (secs < min || secs > max)
      return Unexpected(at(v.front(), in_quotes(text) + " is out of range; " + range));
    out.*field = secs;
    return {};
  };
  return s;
}

// FROM%-TO% of a certificate's lifetime, in percent with at most two decimals. FROM below 50
// replaces a certificate after less than half its lifetime (near 0: a new CSR as soon as one
// is installed, in a loop); TO above 95 leaves too little of the lifetime to get the next one
// approved before the current one expires.
constexpr std::int64_t kWindowMin = 5000, kWindowMax = 9500;  // hundredths of a percent

Setting window_setting(std::string key, std::string flag, std::string default_value,
                       std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::PercentWindow, std::move(description));
  s.default_value = std::move(default_value);
  s.allowed = "FROM%-TO%, " + format_decimal(kWindowMin, 2) +
              " <= FROM <= TO <= " + format_decimal(kWindowMax, 2) + ", at most 2 decimals";
  s.parse = [](Settings& out, const Values& v, const ParseContext&) -> Expected<void> {
    const std::string& text = v.front().text;
    const std::string how = "write FROM%-TO% with " + format_decimal(kWindowMin, 2) +
                            " <= FROM <= TO <= " + format_decimal(kWindowMax, 2) +
                            " (at most 2 decimals), e.g. 70%-90%";
    const auto dash = text.find('-');
    if (dash == std::string::npos || text.find('-', dash + 1) != std::string::npos)
      return Unexpected(at(v.front(), in_quotes(text) + " is not a window; " + how));
    std::int64_t bounds[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
      std::string_view part =
          std::string_view(text).substr(i == 0 ? 0 : dash + 1, i == 0 ? dash : std::string::npos);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
      if (!part.empty() && part.back() == '%') part.remove_suffix(1);
      auto n = parse_decimal(part, 2, 0, 10000);
      if (!n)
        return Unexpected(
            at(v.front(), in_quotes(text) + " is not a window (" + n.error().message + "); " + how));
      bounds[i] = *n;
    }
    const auto [from, to] = bounds;
    if (from < kWindowMin)
      return Unexpected(at(
          v.front(), in_quotes(text) + ": FROM below " + format_decimal(kWindowMin, 2) +
                         "% replaces a certificate before half its lifetime (near 0: a CSR loop); " + how));
    if (to > kWindowMax)
      return Unexpected(
          at(v.front(), in_quotes(text) + ": TO above " + format_decimal(kWindowMax, 2) +
                            "% leaves too little time to get the next certificate before this one "
                            "expires; " +
                            how));
    if (from > to) return Unexpected(at(v.front(), in_quotes(text) + ": FROM is above TO; " + how));
    out.rotation_window_from = static_cast<double>(from) / 10000.0;
    out.rotation_window_to = static_cast<double>(to) / 10000.0;
    return {};
  };
  return s;
}

Setting ip_list_setting(std::string key, std::string flag, std::string default_doc, std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::IpList, std::move(description));
  s.default_doc = std::move(default_doc);
  s.list = true;
  s.parse = [](Settings& out, const Values& v, const ParseContext&) -> Expected<void> {
    std::vector<std::string> ips;
    for (const auto& item : v) {
      unsigned char bin[16];
      char text[INET6_ADDRSTRLEN];
      if (inet_pton(AF_INET, item.text.c_str(), bin) == 1) {
        ips.emplace_back(inet_ntop(AF_INET, bin, text, sizeof text));
      } else if (inet_pton(AF_INET6, item.text.c_str(), bin) == 1) {
        ips.emplace_back(inet_ntop(AF_INET6, bin, text, sizeof text));
      } else {
        return Unexpected(at(item, in_quotes(item.text) + " is not an IPv4 or IPv6 address"));
      }
    }
    out.serving_ips = std::move(ips);
    out.serving_ips_set = true;
    return {};
  };
  return s;
}

Setting dns_list_setting(std::string key, std::string flag, std::string default_doc,
                         std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::DnsList, std::move(description));
  s.default_doc = std::move(default_doc);
  s.list = true;
  s.parse = [](Settings& out, const Values& v, const ParseContext&) -> Expected<void> {
    std::vector<std::string> names;
    for (const auto& item : v) {
      if (auto problem = node_name_problem(item.text))
        return Unexpected(at(item, in_quotes(item.text) + " is not a valid DNS name: " + *problem));
      names.push_back(item.text);
    }
    out.serving_dns_names = std::move(names);
    out.serving_dns_names_set = true;
    return {};
  };
  return s;
}

// host:port on loopback (the metrics carry nothing secret, but stay off the network).
Setting listen_address_setting(std::string key, std::string flag,
                               std::optional<ListenAddress> Settings::*field, std::string default_value,
                               std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::ListenAddress, std::move(description));
  s.default_value = std::move(default_value);
  s.allowed = "127.0.0.1, ::1 or localhost; port 1-65535; empty disables";
  s.empty_turns_off = true;
  s.parse = [field](Settings& out, const Values& v, const ParseContext&) -> Expected<void> {
    if (v.empty() || v.front().text.empty()) {
      (out.*field).reset();
      return {};
    }
    const std::string& text = v.front().text;
    const auto colon = text.rfind(':');
    if (colon == std::string::npos)
      return Unexpected(
          at(v.front(), in_quotes(text) + " is not host:port (e.g. 127.0.0.1:10271; empty disables)"));
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    auto port = parse_whole_number(std::string_view(text).substr(colon + 1), 1, 65535);
    if (!port) {
      return Unexpected(at(v.front(), in_quotes(text) +
                                          " is not host:port (e.g. 127.0.0.1:10271; empty disables): port " +
                                          port.error().message));
    }
    if (host != "127.0.0.1" && host != "::1" && host != "localhost") {
      return Unexpected(
          at(v.front(), in_quotes(text) + ": metrics are served on loopback only; use 127.0.0.1 or ::1"));
    }
    out.*field = ListenAddress{host == "localhost" ? "127.0.0.1" : host, static_cast<std::uint16_t>(*port)};
    return {};
  };
  return s;
}

// A regular expression (ECMAScript) that must compile; empty: none.
Setting pattern_setting(std::string key, std::string flag, std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::Pattern, std::move(description));
  s.default_doc = "none";
  s.empty_turns_off = true;
  s.parse = [](Settings& out, const Values& v, const ParseContext&) -> Expected<void> {
    if (v.empty() || v.front().text.empty()) {
      out.approver_dns_name_pattern.clear();
      return {};
    }
    const std::string& text = v.front().text;
    if (text.size() > 1024) return Unexpected(at(v.front(), "longer than 1024 characters"));
    // Shown with the pattern only once it is known to be printable ASCII.
    if (const std::string bad = regex_bounds_problem(text); !bad.empty()) {
      const bool printable = bad.rfind("has a byte", 0) != 0;
      return Unexpected(
          at(v.front(), "regular expression " + (printable ? in_quotes(text) + " " : "") + bad));
    }
    try {
      const std::regex compiled(text, kBoundedRegexFlags);
    } catch (const std::regex_error& e) {
      return Unexpected(at(v.front(), in_quotes(text) + " is not a regular expression (" + e.what() + ")"));
    }
    out.approver_dns_name_pattern = text;
    return {};
  };
  return s;
}

Setting cidr_list_setting(std::string key, std::string flag, std::string description) {
  Setting s = row(std::move(key), std::move(flag), SettingType::CidrList, std::move(description));
  s.default_doc = "none";
  s.list = true;
  s.parse = [](Settings& out, const Values& v, const ParseContext&) -> Expected<void> {
    std::vector<std::string> ranges;
    for (const auto& item : v) {
      if (auto problem = cidr_problem(item.text)) return Unexpected(at(item, *problem));
      ranges.push_back(item.text);
    }
    out.approver_allowed_ip_ranges = std::move(ranges);
    return {};
  };
  return s;
}

std::vector<Setting> make_table() {
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  std::vector<KeyAlgorithm> algorithms;
  for (std::size_t i = 0; i < kKeyAlgorithmNames.size(); ++i)
    algorithms.push_back(static_cast<KeyAlgorithm>(i));
  std::vector<Setting> t;
  t.push_back(node_name_setting("nodeName", "--node-name", &Settings::node_name, "node name",
                                "host name, lowercased",
                                "The node's name: the certificates are for system:node:<nodeName>"));
  t.push_back(
      path_setting("bootstrapKubeconfig", "--bootstrap-kubeconfig", &Settings::bootstrap_kubeconfig,
                   "/etc/kubernetes/bootstrap-kubelet.conf",
                   "Kubeconfig with the bootstrap token, used when there is no valid client certificate"));
  t.push_back(path_setting("kubeconfig", "--kubeconfig", &Settings::kubeconfig,
                           "/etc/kubernetes/kubelet.conf",
                           "The kubelet's kubeconfig, written to point at the current client certificate"));
  t.push_back(path_setting("certDir", "--cert-dir", &Settings::cert_dir, "/var/lib/kubelet/pki",
                           "The kubelet's certificate directory"));
  t.push_back(path_setting("kubeletConfig", "--kubelet-config", &Settings::kubelet_config,
                           "/var/lib/kubelet/config.yaml", "The kubelet's KubeletConfiguration file"));
  t.push_back(choice_setting("keyAlgorithm", "--key-algorithm", &Settings::key_algorithm, algorithms,
                             "ECDSA-P256", "Algorithm of the private keys generated on the node"));
  t.push_back(whole_number_setting("clientExpirationSeconds", "--client-expiration-seconds",
                                   &Settings::client_expiration_seconds, std::nullopt,
                                   "unset (the signer's default)", 600, 2147483647,
                                   "Requested lifetime of the client certificate (spec.expirationSeconds)"));
  t.push_back(
      window_setting("rotationWindow", "--rotation-window", "70%-90%",
                     "Part of a certificate's lifetime (from notBefore) in which it is rotated, at a random "
                     "point"));
  t.push_back(duration_setting(
      "csrCreateInterval", "--csr-create-interval", &Settings::csr_create_interval, "1h", seconds(1),
      hours(30 * 24), "After a denied, failed or vanished CSR, at most one new CSR per this interval"));
  t.push_back(whole_number_setting("keepCertificates", "--keep-certificates", &Settings::keep_certificates,
                                   std::string("3"), "", 1, 100,
                                   "Timestamped certificate files kept per certificate"));
  t.push_back(bool_setting("serving", "--serving", &Settings::serving, "true",
                           "Obtain and rotate the serving certificate (kubernetes.io/kubelet-serving)"));
  t.push_back(ip_list_setting("servingIPs", "--serving-ip", "the host's non-loopback addresses",
                              "IP address SANs of the serving certificate (repeatable)"));
  t.push_back(dns_list_setting("servingDNSNames", "--serving-dns-name", "the host name, lowercased",
                               "DNS name SANs of the serving certificate (repeatable)"));
  t.push_back(whole_number_setting("servingExpirationSeconds", "--serving-expiration-seconds",
                                   &Settings::serving_expiration_seconds, std::nullopt,
                                   "unset (the signer's default)", 600, 2147483647,
                                   "Requested lifetime of the serving certificate (spec.expirationSeconds)"));
  t.push_back(choice_setting(
      "kubeletRestart", "--kubelet-restart", &Settings::kubelet_restart,
      {KubeletRestart::Auto, KubeletRestart::Always, KubeletRestart::Never}, "auto",
      "When the kubelet is restarted (never one that is not running): auto restarts it after a "
      "change to its config file and after a new serving certificate if it is older than 1.31 "
      "(which does not reload it), always after both, never restarts nothing and logs the "
      "command to run"));
  t.push_back(
      text_setting("kubeletUnit", "--kubelet-unit", &Settings::kubelet_unit, "kubelet.service",
                   "The kubelet's systemd unit: restarted over D-Bus (TryRestartUnit) and checked; its "
                   "ExecStart= names the kubelet"));
  t.push_back(
      optional_path_setting("kubeletPath", "--kubelet-path", &Settings::kubelet_path, "detected",
                            "The kubelet binary whose version decides what is written to its config file "
                            "(default: the running kubelet, else the ExecStart= of kubeletUnit)"));
  t.push_back(
      duration_setting("kubeletHealthTimeout", "--kubelet-health-timeout", &Settings::kubelet_health_timeout,
                       "90s", seconds(10), minutes(30),
                       "After a kubelet config change and restart: how long the kubelet has to be active "
                       "(running) and answer healthz before the change is rolled back"));
  t.push_back(bool_setting(
      "followClusterCA", "--follow-cluster-ca", &Settings::follow_cluster_ca, "true",
      "Follow the cluster's CA bundle as kube-public/cluster-info publishes it (kubeadm's CA rotation): "
      "kubelet.conf's CA and the client CA file kubelet-certd wrote are updated, the kubelet restarted"));
  t.push_back(
      duration_setting("clusterCACheckInterval", "--cluster-ca-check-interval",
                       &Settings::cluster_ca_check_interval, "6h", minutes(1), hours(7 * 24),
                       "How often cluster-info is read (at random within +-20%), besides at start and "
                       "after every rotation"));
  t.push_back(
      bool_setting("patchKubeletConfig", "--patch-kubelet-config", &Settings::patch_kubelet_config, "true",
                   "Patch kubeletConfig: serving certificate files, client CA, hardening (comments and order "
                   "kept)"));
  t.push_back(
      choice_setting("hardening", "--hardening", &Settings::hardening,
                     {Hardening::Cis, Hardening::Minimal, Hardening::Off}, "cis",
                     "What the patch enforces besides the certificate files: cis (the CIS kubelet settings), "
                     "minimal (anonymous auth off, Webhook authorization), off"));
  t.push_back(path_setting(
      "clientCAFile", "--client-ca-file", &Settings::client_ca_file, "/etc/kubernetes/pki/ca.crt",
      "The kubelet's client CA file (authentication.x509.clientCAFile); written from the "
      "kubeconfig's CA when absent"));
  t.push_back(listen_address_setting("metricsAddress", "--metrics-address", &Settings::metrics_address,
                                     "127.0.0.1:10271", "Prometheus metrics on this loopback host:port"));
  t.push_back(optional_path_setting("metricsTextfile", "--metrics-textfile", &Settings::metrics_textfile,
                                    "none",
                                    "Also write the metrics to this file, atomically (node_exporter textfile "
                                    "collector)"));
  t.push_back(
      choice_setting("logLevel", "--log-level", &Settings::log_level,
                     {LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error},
                     "info", "Log verbosity"));
  t.back().scope = SettingScope::Both;
  // kubelet-certd approve.
  const auto approver = [&t](Setting s) {
    s.scope = SettingScope::Approver;
    t.push_back(std::move(s));
  };
  approver(path_setting("approverKubeconfig", "--kubeconfig", &Settings::approver_kubeconfig,
                        "/etc/kubernetes/kubelet-certd-approver.conf",
                        "approve: kubeconfig of the approver's own identity (RBAC: "
                        "/usr/share/kubelet-certd/approver-rbac.yaml)"));
  approver(node_name_setting(
      "approverIdentity", "--identity", &Settings::approver_identity, "name", "host name, lowercased",
      "approve: this replica's name as holder of the Lease kube-system/kubelet-certd-approver"));
  approver(pattern_setting("approverDNSNamePattern", "--dns-name-pattern",
                           "approve: every DNS SAN must also match this regular expression (whole name, "
                           "ECMAScript); empty: any name among the Node's addresses"));
  approver(cidr_list_setting("approverAllowedIPRanges", "--allowed-ip-range",
                             "approve: every IP SAN must also be in one of these ranges; empty: any address "
                             "among the Node's"));
  approver(whole_number_setting("approverMaxExpirationSeconds", "--max-expiration-seconds",
                                &Settings::approver_max_expiration_seconds, std::string("31708800"), "", 600,
                                2147483647,
                                "approve: the longest spec.expirationSeconds approved (default 367 days)"));
  approver(listen_address_setting("approverMetricsAddress", "--metrics-address",
                                  &Settings::approver_metrics_address, "127.0.0.1:10272",
                                  "approve: Prometheus metrics on this loopback host:port"));
  approver(duration_setting("approverResyncPeriod", "--resync-period", &Settings::approver_resync_period,
                            "10m", seconds(60), hours(24),
                            "approve: list every CSR again this often, besides the watch"));
  return t;
}

}  // namespace

const std::vector<Setting>& settings_table() {
  static const std::vector<Setting> table = make_table();
  return table;
}

const Setting* find_setting(std::string_view key) {
  for (const auto& s : settings_table()) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

}  // namespace detail

// Every default is a row's default_value, read by the row's own parser: a default outside its
// own range cannot be written.
Settings::Settings() {
  for (const auto& s : detail::settings_table()) {
    if (!s.default_value) continue;
    detail::RawValue v{*s.default_value, Location{"settings table", 0, 0, s.key}};
    if (auto r = s.parse(*this, {v}, {}); !r) throw std::logic_error("settings table: " + r.error().format());
  }
}

std::vector<SettingInfo> describe_settings() {
  std::vector<SettingInfo> out;
  for (const auto& s : detail::settings_table())
    out.push_back(SettingInfo{s.key, s.flag, s.type, s.default_text(), s.allowed, s.description, s.scope});
  return out;
}

}  // namespace kcd::config
