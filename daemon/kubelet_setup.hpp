// Wires the kubelet to what kubelet-certd manages: the cluster CA file (written from the
// kubeconfig if absent) and kubelet-config.yaml patched (certificate files, client CA,
// hardening) with only the keys this kubelet's version accepts. A change is recorded before it
// is written, the kubelet restarted and checked, and rolled back when it does not come back;
// the refused keys are not tried again until the kubelet or the settings change.
// Used by the daemon (on a worker thread) and by `check --fix`.
#pragma once

#include "config/settings.hpp"
#include "daemon/kubelet_restart.hpp"
#include "kubelet/change_state.hpp"
#include "kubelet/cis.hpp"
#include "kubelet/detect.hpp"
#include "kubelet/kubelet_config.hpp"
#include "kubelet/kubelet_flags.hpp"

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

namespace kcd::daemon {

// Where the kubelet is looked for: the system root (a temporary tree in tests) and the unit's
// MainPID when systemd can say (0 otherwise).
struct KubeletContext {
  std::filesystem::path root = "/";
  pid_t main_pid = 0;
  const std::atomic<bool>* stop = nullptr;  // true: `kubelet --version` is killed at once (SIGTERM)
};

// What configuring the kubelet would do now; computing it changes nothing.
struct KubeletPlan {
  kubelet::KubeletBinary kubelet;  // the kubelet the file is written for
  kubelet::KubeletCommandLine command_line;
  std::filesystem::path config;  // the kubelet config file
  bool existed = false;
  std::string original;                // its text now ("" when it does not exist)
  kubelet::PatchResult patch;          // the new text, what changes, what is held back
  std::string ca_pem;                  // to write to clientCAFile ("" when nothing is to be written)
  bool ca_update = false;              // ca_pem replaces the file we wrote earlier (the bundle changed)
  std::string ca_refused;              // the cluster's bundle was refused: why, naming its file
  std::string ca_foreign;              // the file we wrote was changed by someone: left alone, why
  bool cluster_ca_changed = false;     // kubelet.conf's CA changed (set by the caller): restart
  std::string restart_owed;            // a CA change's restart not done yet (daemon/restart_owed)
  std::vector<std::string> conflicts;  // flags that override the patched settings
  std::string fingerprint;             // the kubelet version and settings the change is for
  kubelet::ChangeState state;          // the record of earlier changes (certDir)
  std::string state_warning;           // the record was unreadable and was set aside
  std::string diff() const;            // unified diff of the change ("" when none)
};

// An error names the file and the fix (a malformed or unreadable config file); nothing is changed.
Expected<KubeletPlan> plan_kubelet(const config::Settings& settings, const KubeletContext& context);

struct KubeletChange {
  enum class Result {
    Unchanged,       // nothing to write
    Written,         // written; the kubelet was not restarted (`detail`: the restart policy's reason)
    NotRestarted,    // written; the restart could not be requested (`detail`)
    Healthy,         // written, restarted, and the kubelet came back
    RolledBack,      // the kubelet did not come back: the previous file was restored and it came back with it
    RollbackFailed,  // restored, but the kubelet did not come back even so (`detail`)
    Interrupted,     // a stop came while checking; the next start finishes the check
    Unhealthy,       // restarted for a CA change, and it did not come back (`detail`); nothing to roll back
  } result = Result::Unchanged;
  bool ca_written = false;  // the client CA file was created
  bool ca_updated = false;  // the client CA file we wrote earlier now holds the cluster's new bundle
  bool ca_restart = false;  // the restart (or its refusal: `result`) was for a cluster CA change
  std::vector<std::string> changes;
  std::filesystem::path backup;
  std::string detail;                     // why it was rolled back / not restarted
  std::vector<std::string> journal;       // the kubelet's last journal lines, when rolled back
  std::vector<std::string> refused_keys;  // the keys refused by the rollback
};
std::string_view to_string(KubeletChange::Result r);

// Writes the CA file and the plan's config file (the previous version kept as .bak, the
// operator's own as .orig), then restarts the kubelet through `fx` and checks it when
// decide_kubelet_restart says so (else Written, `detail` saying why); rolls back when it does
// not come back. `fx` null: write only. An error when a file cannot be written (the kubelet's
// file is then the previous one).
Expected<KubeletChange> apply_kubelet_plan(const config::Settings& settings, const KubeletPlan& plan,
                                           KubeletEffects* fx, const HealthPolicy& policy);

// At start: a change whose check did not finish (a crash, a stop) is checked now and rolled
// back if the kubelet is not healthy. Result Unchanged when there was nothing to finish.
Expected<KubeletChange> recover_kubelet_change(const config::Settings& settings, KubeletEffects& fx,
                                               const HealthPolicy& policy);

// The change record in certDir (an empty one when there is none); a corrupt one is set aside as
// <file>.corrupt and the Corrupt error says so.
Expected<kubelet::ChangeState> load_change_state(const std::filesystem::path& cert_dir);
Expected<void> save_change_state(const std::filesystem::path& cert_dir, const kubelet::ChangeState& state);

// Flags on the kubelet's command line that contradict what kubelet-certd sets in the file:
// "--read-only-port=10255 (/etc/default/kubelet:1) overrides readOnlyPort: 0 ...".
std::vector<std::string> kubelet_flag_conflicts(const config::Settings& settings,
                                                const kubelet::KubeletCommandLine& cl);

// What the CIS checks read on this node: the configured paths, the kubelet's command line.
kubelet::CisInputs cis_inputs(const config::Settings& settings, const KubeletContext& context = {});

// The backup of the previous kubelet-config.yaml: "<file>.kubelet-certd.bak"; the version
// from before kubelet-certd first patched it stays in "<file>.kubelet-certd.orig".
std::filesystem::path kubelet_config_backup(const std::filesystem::path& config);

}  // namespace kcd::daemon
