// `kubelet-certd run` (and `renew` without a daemon): what a run is asked to do, how it ended,
// and the run itself: the instance lock, then the supervisor until it stops.
#pragma once

#include "config/settings.hpp"
#include "daemon/agent.hpp"
#include "daemon/exit_verdict.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace kcd::daemon {

struct RunOptions {
  bool once = false;
  // Rotate these now (the renew command). With `once`, done means "a new certificate of each
  // of these kinds was installed".
  std::vector<rotation::CertKind> renew;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};  // --once only
  AgentTimings timings;
  // SIGHUP: re-read the settings; an error keeps the running configuration.
  std::function<Expected<config::Settings>()> reload;
};

struct RunResult {
  int exit_code = kExitOk;
  std::string message;  // one line: what happened (for --once), or why it stopped
};

// Takes the instance lock in certDir (an error when another instance holds it), then runs the
// supervisor until a signal, or until a one-shot run's verdict.
RunResult run(const config::Settings& settings, const RunOptions& options);

// The certificates a daemon manages (client, and serving unless turned off).
std::vector<rotation::CertKind> managed_kinds(const config::Settings& settings);

}  // namespace kcd::daemon
