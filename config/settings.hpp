// kubelet-certd's own settings: /etc/kubelet-certd/config.yaml plus command-line flags of the
// same meaning (a flag wins). One schema table drives parsing, flags, validation and docs.
#pragma once

#include "base/expected.hpp"
#include "base/key_algorithm.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace kcd::config {

inline constexpr std::string_view kApiVersion = "kubelet-certd.io/v1alpha1";
inline constexpr std::string_view kKind = "KubeletCertdConfiguration";
inline constexpr std::string_view kDefaultConfigFile = "/etc/kubelet-certd/config.yaml";

// What the kubelet config patch enforces besides the certificate files.
enum class Hardening { Cis, Minimal, Off };
// When the kubelet is restarted for a new serving certificate.
enum class KubeletRestart { Auto, Always, Never };
// How much the daemon logs.
enum class LogLevel { Trace, Debug, Info, Warn, Error };
std::string_view to_string(Hardening h);
std::string_view to_string(KubeletRestart r);
std::string_view to_string(LogLevel l);

// Which command a setting is for: the agent (run, renew, status, check, check-config), the
// serving CSR approver (approve), or both. All of them live in the one settings file.
enum class SettingScope { Agent, Approver, Both };

// A loopback address to listen on, parsed when the settings are loaded.
struct ListenAddress {
  std::string ip;            // an IP literal, 127.0.0.1 or ::1 ("localhost" is read as 127.0.0.1)
  std::uint16_t port = 0;    // 1-65535
  std::string text() const;  // "127.0.0.1:10271", "[::1]:10271"
  bool operator==(const ListenAddress&) const = default;
};

// Where each value was given: a settings file position or a flag. A default has none. Never
// makes two Settings differ: the same values written on other lines are the same settings.
struct SettingOrigins {
  std::map<std::string, Location, std::less<>> by_key;
  // The value's position, or just the key (and "(default)") when it was not given.
  Location of(std::string_view key) const;
  bool operator==(const SettingOrigins&) const { return true; }
};

// Every value typed and checked; the defaults come from the one settings table
// (config/settings_table.cpp), which also writes --help, the README table and the man page.
struct Settings {
  Settings();  // all defaults

  std::string node_name;  // default (at load): the host name, lowercased
  std::filesystem::path bootstrap_kubeconfig;
  std::filesystem::path kubeconfig;
  std::filesystem::path cert_dir;
  std::filesystem::path kubelet_config;
  KeyAlgorithm key_algorithm{};
  std::optional<std::int64_t> client_expiration_seconds;  // unset: the signer's default
  LogLevel log_level{};

  // Rotation: a uniformly random point of the lifetime, between these fractions.
  double rotation_window_from = 0;
  double rotation_window_to = 0;
  // After a denial, failure or vanished CSR, the next CSR waits at least this long.
  std::chrono::seconds csr_create_interval{};
  bool follow_cluster_ca = true;                     // follow kube-public/cluster-info's CA bundle
  std::chrono::seconds cluster_ca_check_interval{};  // between checks of cluster-info (jittered)
  int keep_certificates = 0;                         // timestamped PEM files kept per certificate

  // The serving certificate (kubernetes.io/kubelet-serving).
  bool serving = false;
  std::vector<std::string> serving_ips;        // default: the host's non-loopback addresses
  std::vector<std::string> serving_dns_names;  // default: the host name, lowercased
  bool serving_ips_set = false;                // given (possibly as an empty list): no default
  bool serving_dns_names_set = false;
  std::optional<std::int64_t> serving_expiration_seconds;
  KubeletRestart kubelet_restart{};
  std::string kubelet_unit;
  // The kubelet binary whose version decides what is written (overrides finding the running
  // kubelet or its unit's ExecStart=); empty: detect.
  std::filesystem::path kubelet_path;
  // After a change to the kubelet's config file and its restart, how long the kubelet has to be
  // active (running) and answer healthz before the change is rolled back.
  std::chrono::seconds kubelet_health_timeout{};

  // The kubelet's own configuration file.
  bool patch_kubelet_config = false;
  Hardening hardening{};
  std::filesystem::path client_ca_file;

  // Observability.
  std::optional<ListenAddress> metrics_address;  // nullopt: no metrics endpoint
  std::filesystem::path metrics_textfile;        // node_exporter textfile; empty: none

  // `kubelet-certd approve`: the kubernetes.io/kubelet-serving CSR approver.
  std::filesystem::path approver_kubeconfig;            // its own identity's kubeconfig
  std::string approver_identity;                        // the Lease holder; default (at load): the host name
  std::string approver_dns_name_pattern;                // ECMAScript regex; empty: any DNS SAN of the Node
  std::vector<std::string> approver_allowed_ip_ranges;  // CIDRs; empty: any IP SAN of the Node
  std::int64_t approver_max_expiration_seconds = 0;
  std::optional<ListenAddress> approver_metrics_address;  // nullopt: no metrics endpoint
  std::chrono::seconds approver_resync_period{};          // relist every CSR this often

  std::filesystem::path config_file;  // the file actually read; empty when none
  SettingOrigins origins;
  bool operator==(const Settings&) const = default;
};

// The setting flags of one subcommand, as CLI11 parsed them.
class SettingFlags {
 public:
  SettingFlags() = default;
  SettingFlags(const SettingFlags&) = delete;  // CLI11 keeps pointers into it
  SettingFlags& operator=(const SettingFlags&) = delete;

  // Registers --config and one flag per setting of `scope` (and of both) on `app`.
  void add_to(CLI::App& app, SettingScope scope = SettingScope::Agent);

  struct Value {
    std::vector<std::string> values;
    CLI::Option* option = nullptr;
  };
  const std::map<std::string, Value>& values() const { return values_; }
  std::optional<std::string> config_file() const;  // --config, when given

 private:
  std::map<std::string, Value> values_;  // by setting key
  std::string config_;
  CLI::Option* config_option_ = nullptr;
};

// What the defaults depend on, injectable for tests.
struct Environment {
  std::function<std::string()> host_name;
  std::function<std::vector<std::string>()> addresses;  // non-loopback IPs of the host
  std::filesystem::path cwd;
};
Environment system_environment();

// Reads --config (or the default file: missing = all defaults; an explicitly named file must
// exist), applies it, then the flags, and parses every value once into its typed field. Never
// writes anything. Errors are ErrorKind::Config, positioned: "file:line:column: key: message"
// (file "command line" and the flag as key for flags).
Expected<Settings> load_settings(const SettingFlags& flags, const Environment& env);

// The same from a YAML text (tests, check-config of a candidate file).
Expected<Settings> parse_settings(std::string_view yaml_text, const std::string& source,
                                  const Environment& env);

// What kind of value a setting holds (for documentation and the tests that cover every row).
enum class SettingType {
  Text,
  Path,
  OptionalPath,
  NodeName,
  Choice,
  Boolean,
  Integer,
  Duration,
  PercentWindow,
  IpList,
  DnsList,
  ListenAddress,
  Pattern,
  CidrList
};
// One row of the settings table as documentation sees it.
struct SettingInfo {
  std::string key;   // in the settings file: "keepCertificates"
  std::string flag;  // "--keep-certificates"
  SettingType type;
  std::string default_text;  // "3", or what the default depends on ("host name, lowercased")
  std::string allowed;       // "1-100", "1s-720h", "cis, minimal, off"; empty: see the description
  std::string description;
  SettingScope scope = SettingScope::Agent;
  bool numeric() const;  // holds a number (Integer, Duration, PercentWindow, the port of ListenAddress)
};
std::vector<SettingInfo> describe_settings();

// Markdown table of every key, flag, default and meaning (the README's reference).
std::string describe_settings_reference();
// The SETTINGS section of kubelet-certd(8), in roff.
std::string describe_settings_man();
// kubelet-certd(8): `man_template` (packaging/doc/kubelet-certd.8.in) with its @SETTINGS@ line
// replaced by describe_settings_man() and @VERSION@ by `version`.
std::string render_man_page(std::string_view man_template, std::string_view version);
// /etc/kubelet-certd/config.yaml as packaged: apiVersion, kind and every key commented out
// with its default and what is allowed. parse_settings() of it gives the defaults.
std::string describe_settings_file();

// Validates a Kubernetes node name (RFC 1123 DNS subdomain); an error explains why not.
std::optional<std::string> node_name_problem(std::string_view name);

}  // namespace kcd::config
