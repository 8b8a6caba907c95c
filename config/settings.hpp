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
std::string_view to_string(Hardening h);
std::string_view to_string(KubeletRestart r);

struct Settings {
  std::string node_name;
  std::filesystem::path bootstrap_kubeconfig = "/etc/kubernetes/bootstrap-kubelet.conf";
  std::filesystem::path kubeconfig = "/etc/kubernetes/kubelet.conf";
  std::filesystem::path cert_dir = "/var/lib/kubelet/pki";
  std::filesystem::path kubelet_config = "/var/lib/kubelet/config.yaml";
  KeyAlgorithm key_algorithm = KeyAlgorithm::EcdsaP256;
  std::optional<std::int64_t> client_expiration_seconds;
  std::string log_level = "info";

  // Rotation: a uniformly random point of the lifetime, between these fractions.
  double rotation_window_from = 0.7;
  double rotation_window_to = 0.9;
  // After a denial, failure or vanished CSR, the next CSR waits at least this long.
  std::chrono::seconds csr_create_interval{std::chrono::hours(1)};
  int keep_certificates = 3;  // timestamped PEM files kept per certificate

  // The serving certificate (kubernetes.io/kubelet-serving).
  bool serving = true;
  std::vector<std::string> serving_ips;        // default: the host's non-loopback addresses
  std::vector<std::string> serving_dns_names;  // default: the host name, lowercased
  bool serving_ips_set = false;                // given (possibly as an empty list): no default
  bool serving_dns_names_set = false;
  std::optional<std::int64_t> serving_expiration_seconds;
  KubeletRestart kubelet_restart = KubeletRestart::Auto;
  std::string kubelet_unit = "kubelet.service";
  // The kubelet binary whose version decides what is written (overrides finding the running
  // kubelet or its unit's ExecStart=); empty: detect.
  std::filesystem::path kubelet_path;
  // After a change to the kubelet's config file and its restart, how long the kubelet has to be
  // active (running) and answer healthz before the change is rolled back.
  std::chrono::seconds kubelet_health_timeout{90};

  // The kubelet's own configuration file.
  bool patch_kubelet_config = true;
  Hardening hardening = Hardening::Cis;
  std::filesystem::path client_ca_file = "/etc/kubernetes/pki/ca.crt";

  // Observability.
  std::string metrics_address = "127.0.0.1:10271";  // empty: no metrics endpoint
  std::filesystem::path metrics_textfile;           // node_exporter textfile; empty: none

  std::filesystem::path config_file;  // the file actually read; empty when none
  bool operator==(const Settings&) const = default;
};

// A configuration problem, positioned: "file:line:column: key: message".
struct ConfigError {
  std::string file;     // a path, or "command line"
  int line = 0;         // 1-based; 0 = not applicable
  int column = 0;       // 1-based; 0 = not applicable
  std::string key;      // the setting, flag or kubeconfig field concerned ("" if none)
  std::string message;  // what is wrong and what is allowed
  std::string format() const;
};

// The setting flags of one subcommand, as CLI11 parsed them.
class SettingFlags {
 public:
  SettingFlags() = default;
  SettingFlags(const SettingFlags&) = delete;  // CLI11 keeps pointers into it
  SettingFlags& operator=(const SettingFlags&) = delete;

  // Registers --config and one flag per setting on `app`.
  void add_to(CLI::App& app);

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
// exist), applies it, then the flags, and validates everything. Never writes anything.
Expected<Settings, ConfigError> load_settings(const SettingFlags& flags, const Environment& env);

// The same from a YAML text (tests, check-config of a candidate file).
Expected<Settings, ConfigError> parse_settings(std::string_view yaml_text, const std::string& source,
                                               const Environment& env);

// Markdown table of every key, flag, type and default (the README's reference).
std::string describe_settings_reference();

// Validates a Kubernetes node name (RFC 1123 DNS subdomain); an error explains why not.
std::optional<std::string> node_name_problem(std::string_view name);

}  // namespace kcd::config
