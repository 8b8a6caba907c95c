// `kubelet-certd run`: the event loop that owns the agent, signals, sd_notify and the
// one-shot mode's exit codes.
#pragma once

#include "config/settings.hpp"
#include "daemon/agent.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <vector>
#include <string>

namespace kcd::daemon {

// Exit codes of the command line (documented in the README).
enum ExitCode : int {
  kExitOk = 0,       // done: valid certificate(s) installed / command succeeded
  kExitError = 1,    // runtime error: API unreachable, file errors, another instance, ...
  kExitConfig = 2,   // invalid configuration or command line; nothing was changed
  kExitPending = 3,  // run --once: a CSR is filed but was not approved/issued before --timeout
  kExitDenied = 4,   // run --once: the CSR was denied or failed, or the issued certificate was rejected
};

struct RunOptions {
  bool once = false;
  // Rotate these now (the renew command). With `once`, done means "a new certificate of each
  // of these kinds was installed".
  std::vector<rotation::CertKind> renew;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};  // --once only
  Tuning tuning;
  // SIGHUP: re-read the settings; an error keeps the running configuration.
  std::function<Expected<config::Settings>()> reload;
};

struct RunResult {
  int exit_code = kExitOk;
  std::string message;  // one line: what happened (for --once), or why it stopped
};

RunResult run(const config::Settings& settings, const RunOptions& options);

// The certificates a daemon manages (client, and serving unless turned off).
std::vector<rotation::CertKind> managed_kinds(const config::Settings& settings);

// The condition's word in the control protocol ("awaiting approval", ...): clients decide on it.
std::string_view to_string(rotation::Condition c);

// One certificate's state as the control socket and `status` report it.
nlohmann::json describe_lifecycle(rotation::CertKind kind, const rotation::Lifecycle& machine);

}  // namespace kcd::daemon
