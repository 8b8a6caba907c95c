#include "daemon/kubelet_setup.hpp"

#include "config/kubeconfig.hpp"
#include "daemon/cluster_ca.hpp"
#include "daemon/restart_owed.hpp"
#include "kubelet/diff.hpp"
#include "base/files.hpp"
#include "base/openssl.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>

namespace kcd::daemon {

namespace fs = std::filesystem;

fs::path kubelet_config_backup(const fs::path& config) {
  return fs::path(config.string() + ".kubelet-certd.bak");
}

namespace {

// The cluster's CA bundle as the node trusts it: the node's kubeconfig's, else the bootstrap
// kubeconfig's; checked (every block a CA valid now) before anything is written from it.
struct ClusterCa {
  std::string pem;      // the checked bundle, re-encoded ("" when there is none or it is refused)
  std::string refused;  // why the bundle was refused, naming its file
};
ClusterCa cluster_ca(const config::Settings& s) {
  for (const auto& p : {s.kubeconfig, s.bootstrap_kubeconfig}) {
    std::error_code ec;
    if (!fs::exists(p, ec)) continue;
    auto k = config::load_kubeconfig(p);
    if (!k || k->ca_pem.empty()) continue;
    auto bundle = check_kubeconfig_ca(*k, std::chrono::system_clock::now());
    if (!bundle) return {{}, bundle.error().format()};
    return {bundle->pem, {}};
  }
  return {};
}

}  // namespace

std::vector<std::string> kubelet_flag_conflicts(const config::Settings& s,
                                                const kubelet::KubeletCommandLine& cl) {
  std::vector<std::string> out;
  const auto hardening = s.hardening;
  auto report = [&](const kubelet::KubeletFlag& f, const std::string& why) {
    out.push_back(f.name + "=" + f.value + " (" + f.where + ") " + why);
  };
  auto flag = [&](const char* name) { return cl.find(name); };
  if (const auto* f = flag("--config"); f && fs::path(f->value) != s.kubelet_config) {
    report(*f, "is the file the kubelet reads, but kubelet-certd patches " + s.kubelet_config.string() +
                   ": set kubeletConfig to " + f->value);
  }
  if (const auto* f = flag("--kubeconfig"); f && fs::path(f->value) != s.kubeconfig) {
    report(*f, "is the kubeconfig the kubelet reads, but kubelet-certd writes " + s.kubeconfig.string() +
                   ": set kubeconfig to " + f->value);
  }
  if (const auto* f = flag("--client-ca-file"); f && fs::path(f->value) != s.client_ca_file) {
    report(*f, "overrides authentication.x509.clientCAFile: " + s.client_ca_file.string());
  }
  if (s.serving) {
    for (const char* name : {"--tls-cert-file", "--tls-private-key-file"}) {
      if (const auto* f = flag(name))
        report(*f, "overrides the config file: the kubelet will not serve kubelet-certd's certificate");
    }
  }
  if (const auto* f = flag("--rotate-certificates")) {
    report(*f, "makes the kubelet's own rotation race with kubelet-certd's (or fails CIS 4.2.10): remove it");
  }
  if (const auto* f = flag("--rotate-server-certificates")) {
    report(*f, "makes the kubelet file its own serving CSRs next to kubelet-certd's: remove it");
  }
  if (const auto* f = flag("--feature-gates");
      f && f->value.find("RotateKubeletServerCertificate=false") != std::string::npos) {
    report(*f, "sets RotateKubeletServerCertificate=false (CIS 4.2.11): remove that gate");
  }
  if (hardening != kubelet::Hardening::Off) {
    if (const auto* f = flag("--anonymous-auth"); f && f->value != "false") {
      report(*f, "overrides authentication.anonymous.enabled: false (CIS 4.2.1)");
    }
    if (const auto* f = flag("--authorization-mode"); f && f->value != "Webhook") {
      report(*f, "overrides authorization.mode: Webhook (CIS 4.2.2)");
    }
    if (const auto* f = flag("--read-only-port"); f && f->value != "0")
      report(*f, "overrides readOnlyPort: 0 (CIS 4.2.4)");
  }
  if (hardening == kubelet::Hardening::Cis) {
    if (const auto* f = flag("--tls-cipher-suites")) {
      const auto words = f->value;
      const auto& strong = kubelet::strong_cipher_suites();
      std::size_t start = 0;
      bool weak = false;
      while (start <= words.size()) {
        const auto end = std::min(words.find(',', start), words.size());
        const auto suite = words.substr(start, end - start);
        if (!suite.empty() && std::find(strong.begin(), strong.end(), suite) == strong.end()) weak = true;
        start = end + 1;
      }
      if (weak) report(*f, "overrides tlsCipherSuites with suites CIS 4.2.12 does not accept");
    }
  }
  return out;
}

kubelet::CisInputs cis_inputs(const config::Settings& s, const KubeletContext& context) {
  kubelet::CisInputs in;  // files at their configured paths; the command line from `root`
  in.kubelet_config = s.kubelet_config;
  in.kubeconfig = s.kubeconfig;
  in.client_ca_file = s.client_ca_file;
  in.command_line = kubelet::read_kubelet_command_line(context.root, context.main_pid);
  return in;
}

namespace {

std::string sha256_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ossl::check(EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) == 1,
              "EVP_Digest(SHA-256)");
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

fs::path change_state_path(const fs::path& cert_dir) {
  return cert_dir / kubelet::kChangeStateFileName;
}

// The kubelet and the settings a change was made for: a refusal holds while both stay.
std::string fingerprint_of(const config::Settings& s, const kubelet::KubeletBinary& k) {
  return "kubelet " + (k.version ? "v" + k.version->to_string() : std::string("unknown")) + "; hardening " +
         std::string(config::to_string(s.hardening)) + "; kubeletConfig " + s.kubelet_config.string() +
         "; clientCAFile " + s.client_ca_file.string() + "; serving " + (s.serving ? "true" : "false") +
         "; certDir " + s.cert_dir.string();
}

// The file's text, or nullopt when it does not exist.
Expected<std::optional<std::string>> read_if_exists(const fs::path& p) {
  auto text = kcd::read_file(p, kubelet::kMaxKubeletConfigBytes);
  if (text) return std::optional<std::string>(std::move(*text));
  if (text.error().code == ENOENT) return std::optional<std::string>();
  return Unexpected(text.error());
}

// Puts the previous text back (or removes a file we created).
Expected<void> restore(const fs::path& config, const std::string& backup) {
  if (backup.empty()) {
    // The file we created: where a link led us to create it.
    auto target = kcd::write_through_target(config);
    if (!target) return Unexpected(target.error());
    return kcd::remove_file_durable(*target);
  }
  auto text = kcd::read_file(backup, kubelet::kMaxKubeletConfigBytes);
  if (!text) return Unexpected(text.error());
  return kcd::write_file_through(config, *text, 0600);
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : sep) + x;
  return out;
}

// The kubelet did not come back after a change: record the refusal first (a crash must not
// lead to the same change again), restore the previous file, bring the kubelet back.
Expected<void> roll_back(const config::Settings& s, kubelet::ChangeState& state, KubeletEffects& fx,
                         const HealthPolicy& policy, const RestartCheck& failed, KubeletChange& out) {
  const kubelet::PendingChange pending = *state.pending;
  out.journal = fx.journal_tail();
  if (!state.refused || state.refused->fingerprint != pending.fingerprint)
    state.refused = kubelet::RefusedChange{pending.fingerprint, {}, {}};
  const std::string why =
      "the kubelet did not come back after kubelet-certd wrote it (" + failed.detail + "); rolled back";
  for (const auto& k : pending.keys) state.refused->keys[k] = why;
  state.refused->at = std::chrono::system_clock::now();
  ++state.rollbacks;
  out.refused_keys = pending.keys;
  if (auto saved = save_change_state(s.cert_dir, state); !saved) return saved;
  if (auto restored = restore(pending.config, pending.backup); !restored) return restored;
  state.pending.reset();
  if (auto saved = save_change_state(s.cert_dir, state); !saved) return saved;
  // The health endpoint is the restored file's.
  auto restored_text = read_if_exists(pending.config);
  const RestartDecision decision =
      decide_kubelet_restart(RestartCause::RollBack, s.kubelet_restart, seen_unit(fx.unit_state()), nullptr);
  const RestartCheck back = restart_and_check(
      fx, health_endpoint(restored_text && *restored_text ? **restored_text : std::string()), policy,
      decision.action);
  out.detail = failed.detail;
  if (back.result == RestartCheck::Result::Healthy) {
    out.result = KubeletChange::Result::RolledBack;
  } else {
    out.result = KubeletChange::Result::RollbackFailed;
    out.detail += "; after the rollback: " + back.detail;
  }
  return {};
}

// Whether the kubelet was restarted (whatever came of it): an owed restart is then settled.
bool restarted(RestartCheck::Result r) {
  return r == RestartCheck::Result::Healthy || r == RestartCheck::Result::Unhealthy;
}

KubeletChange::Result ca_restart_result(RestartCheck::Result r) {
  switch (r) {
    case RestartCheck::Result::Healthy:
      return KubeletChange::Result::Healthy;
    case RestartCheck::Result::NotRestarted:
      return KubeletChange::Result::NotRestarted;
    case RestartCheck::Result::Interrupted:
      return KubeletChange::Result::Interrupted;
    case RestartCheck::Result::Unhealthy:
      return KubeletChange::Result::Unhealthy;
  }
  return KubeletChange::Result::Written;
}

}  // namespace

std::string_view to_string(KubeletChange::Result r) {
  switch (r) {
    case KubeletChange::Result::Unchanged:
      return "unchanged";
    case KubeletChange::Result::Written:
      return "written";
    case KubeletChange::Result::NotRestarted:
      return "not-restarted";
    case KubeletChange::Result::Healthy:
      return "healthy";
    case KubeletChange::Result::RolledBack:
      return "rolled-back";
    case KubeletChange::Result::RollbackFailed:
      return "rollback-failed";
    case KubeletChange::Result::Interrupted:
      return "interrupted";
    case KubeletChange::Result::Unhealthy:
      return "unhealthy";
  }
  return "?";
}

Expected<kubelet::ChangeState> load_change_state(const fs::path& cert_dir) {
  const fs::path p = change_state_path(cert_dir);
  // Our own file: never through a link, only when ours and closed to others.
  auto text = kcd::read_private_file(p, 1 << 20);
  if (!text && text.error().code == ENOENT) return kubelet::ChangeState{};
  if (!text) return Unexpected(text.error());
  auto parsed = kubelet::parse_change_state(*text, p.string());
  if (parsed) return parsed;
  // Set aside, never lost: the operator can read what it said.
  Error e = parsed.error();
  const fs::path corrupt = fs::path(p.string() + ".corrupt");
  std::error_code ec;
  fs::rename(p, corrupt, ec);
  if (!ec) e.message += "; set aside as " + corrupt.string() + " and started afresh";
  return Unexpected(std::move(e));
}

Expected<void> save_change_state(const fs::path& cert_dir, const kubelet::ChangeState& state) {
  const fs::path p = change_state_path(cert_dir);
  // Read back with our own loader before it replaces the old record.
  const std::string text = kubelet::serialize_change_state(state);
  auto back = kubelet::parse_change_state(text, p.string());
  if (!back || kubelet::serialize_change_state(*back) != text) {
    return Unexpected(
        make_error(ErrorKind::Unexpected, p.string() + ": internal error: the record does not read back as "
                                                       "written; the previous file is kept"));
  }
  return kcd::write_file_atomic(p, text, 0600);
}

std::string KubeletPlan::diff() const {
  if (!patch.changed) return {};
  return kubelet::unified_diff(original, patch.text, config.relative_path().string());
}

Expected<KubeletPlan> plan_kubelet(const config::Settings& s, const KubeletContext& context) {
  KubeletPlan plan;
  plan.config = s.kubelet_config;
  std::error_code ec;
  plan.command_line = kubelet::read_kubelet_command_line(context.root, context.main_pid);
  plan.conflicts = kubelet_flag_conflicts(s, plan.command_line);
  kubelet::DetectOptions detect;
  detect.root = context.root;
  if (!s.kubelet_path.empty()) detect.kubelet_path = s.kubelet_path;
  detect.unit = s.kubelet_unit;
  detect.main_pid = context.main_pid;
  detect.stop = context.stop;
  plan.kubelet = kubelet::detect_kubelet(detect);
  plan.fingerprint = fingerprint_of(s, plan.kubelet);
  if (auto loaded = load_change_state(s.cert_dir)) {
    plan.state = std::move(*loaded);
  } else {
    plan.state_warning = loaded.error().format();
  }
  plan.restart_owed = owed_kubelet_restart(s.cert_dir);
  // The client CA file: written when absent; updated when it is the one we wrote (the marker in
  // the change record says so, by path and contents) and the cluster's bundle changed since.
  const ClusterCa ca = cluster_ca(s);
  plan.ca_refused = ca.refused;
  if (!fs::exists(s.client_ca_file, ec)) {
    plan.ca_pem = ca.pem;
  } else if (const auto& mark = plan.state.client_ca; mark && mark->path == s.client_ca_file.string()) {
    auto now_text = kcd::read_file(s.client_ca_file, 1 << 20);
    const std::string now_sha = now_text ? sha256_hex(*now_text) : std::string();
    const bool ours = now_text && (now_sha == mark->sha256 ||
                                   (!mark->previous_sha256.empty() && now_sha == mark->previous_sha256));
    if (ours && !ca.pem.empty() && *now_text != ca.pem) {
      plan.ca_pem = ca.pem;
      plan.ca_update = true;
    } else if (!ours) {
      plan.ca_foreign = s.client_ca_file.string() +
                        " changed since kubelet-certd wrote it: it is the operator's now and is not updated";
    }
  }

  kubelet::KubeletConfigPatch patch;
  patch.hardening = s.hardening;
  // A path to a missing file would stop the kubelet: only files that exist (or that this
  // change writes) are named.
  if (fs::exists(s.client_ca_file, ec) || !plan.ca_pem.empty()) patch.client_ca_file = s.client_ca_file;
  const fs::path serving = s.cert_dir / "kubelet-server-current.pem";
  if (s.serving && fs::exists(serving, ec)) patch.tls_cert_file = patch.tls_private_key_file = serving;
  patch.kubelet_version = plan.kubelet.version;
  if (const auto* f = plan.command_line.find("--feature-gates"))
    patch.flag_gates = kubelet::parse_feature_gates_flag(f->value);
  if (plan.state.refused && plan.state.refused->fingerprint == plan.fingerprint)
    patch.refused = plan.state.refused->keys;

  auto original = read_if_exists(s.kubelet_config);
  if (!original) return Unexpected(original.error());
  plan.existed = original->has_value();
  plan.original = original->value_or(std::string());
  if (!s.patch_kubelet_config) {
    plan.patch.text = plan.original;
    return plan;
  }
  auto patched = kubelet::patch_kubelet_config(plan.original, patch, s.kubelet_config);
  if (!patched) return Unexpected(patched.error());
  plan.patch = std::move(*patched);
  return plan;
}

Expected<KubeletChange> apply_kubelet_plan(const config::Settings& s, const KubeletPlan& plan,
                                           KubeletEffects* fx, const HealthPolicy& policy) {
  KubeletChange out;
  kubelet::ChangeState state = plan.state;
  std::string owed = plan.restart_owed;
  if (!plan.ca_pem.empty()) {
    std::error_code ec;
    const bool exists = fs::exists(s.client_ca_file, ec);
    if (!exists || plan.ca_update) {
      // The restart an update needs is owed before anything changes, then the marker, naming
      // both contents: a crash before the file is replaced leaves a file that is still ours to
      // update, a crash after it a restart still owed.
      std::string previous;
      if (exists) {
        if (auto text = kcd::read_file(s.client_ca_file, 1 << 20)) previous = sha256_hex(*text);
        auto recorded =
            owe_kubelet_restart(s.cert_dir, "client CA file " + s.client_ca_file.string() + " updated",
                                std::chrono::system_clock::now());
        if (!recorded) return Unexpected(recorded.error());
        owed = *recorded;
      }
      state.client_ca = kubelet::WrittenClientCa{s.client_ca_file.string(), sha256_hex(plan.ca_pem), previous,
                                                 std::chrono::system_clock::now()};
      if (auto saved = save_change_state(s.cert_dir, state); !saved) return Unexpected(saved.error());
      if (auto made = kcd::ensure_directory(s.client_ca_file.parent_path(), 0755); !made)
        return Unexpected(made.error());
      if (auto written = kcd::write_file_through(s.client_ca_file, plan.ca_pem, 0644); !written)
        return Unexpected(written.error());
      out.ca_written = !exists;
      out.ca_updated = exists;
    }
  }
  if (!plan.patch.changed) {
    // A changed client CA or cluster CA reaches the kubelet only through a restart. There is
    // nothing to roll back: the cluster's CA is what it is.
    // An owed restart (recorded before a crash, a stop or a failed D-Bus call) is done here too.
    if (fx == nullptr || (!out.ca_updated && !plan.cluster_ca_changed && owed.empty())) return out;
    out.ca_restart = true;
    const RestartDecision decision = decide_kubelet_restart(RestartCause::ClusterCaChanged, s.kubelet_restart,
                                                            seen_unit(fx->unit_state()), nullptr);
    out.result = KubeletChange::Result::Written;
    if (decision.action == RestartDecision::Action::None) {
      out.detail = decision.why;
      settle_kubelet_restart(s.cert_dir, owed);  // declined by policy: the operator's to do
      return out;
    }
    const RestartCheck check =
        restart_and_check(*fx, health_endpoint(plan.original), policy, decision.action);
    out.detail = check.detail;
    out.result = ca_restart_result(check.result);
    if (restarted(check.result)) settle_kubelet_restart(s.cert_dir, owed);
    return out;
  }

  // Before the file changes: the previous version, then the record of the change (so a crash
  // from here on is finished or rolled back at the next start), then the file.
  std::string backup;
  if (plan.existed) {
    std::error_code ec;
    const fs::path first = fs::path(plan.config.string() + ".kubelet-certd.orig");
    if (!fs::exists(first, ec)) {
      if (auto written = kcd::write_file_atomic(first, plan.original, 0600); !written)
        return Unexpected(written.error());
    }
    out.backup = kubelet_config_backup(plan.config);
    if (auto written = kcd::write_file_atomic(out.backup, plan.original, 0600); !written)
      return Unexpected(written.error());
    backup = out.backup.string();
  } else {
    if (auto made = kcd::ensure_directory(plan.config.parent_path(), 0755); !made)
      return Unexpected(made.error());
  }
  state.kubelet = plan.kubelet.describe();
  state.pending =
      kubelet::PendingChange{plan.config.string(), backup,           sha256_hex(plan.patch.text),
                             plan.patch.keys,      plan.fingerprint, std::chrono::system_clock::now()};
  if (auto saved = save_change_state(s.cert_dir, state); !saved) return Unexpected(saved.error());
  if (auto written = kcd::write_file_through(plan.config, plan.patch.text, 0600); !written) {
    // Nothing changed in the kubelet's file: forget the change recorded a moment ago.
    state.pending.reset();
    (void)save_change_state(s.cert_dir, state);
    return Unexpected(written.error());
  }
  out.changes = plan.patch.changes;
  out.result = KubeletChange::Result::Written;

  auto settle = [&](KubeletChange::Result r) -> Expected<KubeletChange> {
    state.pending.reset();
    out.result = r;
    if (auto saved = save_change_state(s.cert_dir, state); !saved) return Unexpected(saved.error());
    return out;
  };
  if (fx == nullptr) return settle(KubeletChange::Result::Written);
  const RestartDecision decision = decide_kubelet_restart(RestartCause::ConfigChanged, s.kubelet_restart,
                                                          seen_unit(fx->unit_state()), nullptr);
  if (decision.action == RestartDecision::Action::None) {
    out.detail = decision.why;
    settle_kubelet_restart(s.cert_dir, owed);
    return settle(KubeletChange::Result::Written);
  }
  const RestartCheck check =
      restart_and_check(*fx, health_endpoint(plan.patch.text), policy, decision.action);
  // The config change's restart also pays a CA change's: the kubelet read both when it started.
  if (restarted(check.result)) settle_kubelet_restart(s.cert_dir, owed);
  switch (check.result) {
    case RestartCheck::Result::Healthy:
      out.detail = check.detail;
      return settle(KubeletChange::Result::Healthy);
    case RestartCheck::Result::NotRestarted:
      out.detail = check.detail;
      return settle(KubeletChange::Result::NotRestarted);
    case RestartCheck::Result::Interrupted:
      out.detail = check.detail;
      out.result = KubeletChange::Result::Interrupted;
      return out;
    case RestartCheck::Result::Unhealthy:
      if (auto rolled = roll_back(s, state, *fx, policy, check, out); !rolled)
        return Unexpected(rolled.error());
      return out;
  }
  return out;
}

Expected<KubeletChange> recover_kubelet_change(const config::Settings& s, KubeletEffects& fx,
                                               const HealthPolicy& policy) {
  KubeletChange out;
  auto loaded = load_change_state(s.cert_dir);
  if (!loaded) return Unexpected(loaded.error());
  kubelet::ChangeState state = std::move(*loaded);
  if (!state.pending) return out;
  const kubelet::PendingChange pending = *state.pending;
  auto current = read_if_exists(pending.config);
  if (!current) return Unexpected(current.error());
  const std::string now = current->value_or(std::string());
  out.changes = {"unfinished change of " + pending.config + " (" + join(pending.keys, ", ") + ")"};
  auto clear = [&](KubeletChange::Result r, std::string detail) -> Expected<KubeletChange> {
    state.pending.reset();
    out.result = r;
    out.detail = std::move(detail);
    if (auto saved = save_change_state(s.cert_dir, state); !saved) return Unexpected(saved.error());
    return out;
  };
  if (!current->has_value() || sha256_hex(now) != pending.patched_sha256) {
    return clear(KubeletChange::Result::Unchanged, "the change is no longer in the file: nothing to check");
  }
  const auto st = fx.unit_state();
  if (st && (st->active_state == "inactive" || st->load_state != "loaded")) {
    return clear(KubeletChange::Result::Written,
                 "the kubelet is not running (" + st->describe() + "): nothing to check");
  }
  if (!st) {
    // Without systemd's word a silent healthz proves nothing: keep the record for a start that can see.
    out.result = KubeletChange::Result::Interrupted;
    out.detail =
        "the kubelet unit's state cannot be read (" + st.error().message + "); the change stays recorded";
    return out;
  }
  const RestartCheck check = check_health(fx, health_endpoint(now), policy);
  switch (check.result) {
    case RestartCheck::Result::Healthy:
      return clear(KubeletChange::Result::Healthy, check.detail);
    case RestartCheck::Result::Interrupted:
    case RestartCheck::Result::NotRestarted:
      out.result = KubeletChange::Result::Interrupted;
      out.detail = check.detail;
      return out;
    case RestartCheck::Result::Unhealthy:
      if (auto rolled = roll_back(s, state, fx, policy, check, out); !rolled)
        return Unexpected(rolled.error());
      return out;
  }
  return out;
}

}  // namespace kcd::daemon
