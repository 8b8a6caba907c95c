// Restarts of the kubelet that are checked: after a restart the unit must reach and stay
// active (running) with a new MainPID and answer healthz "ok" within a bound, or the change is
// rolled back. The effects (systemd, healthz, the journal, time) are injected, so the decisions
// are tested without a systemd; SystemKubeletEffects is the real thing.
#pragma once

#include "daemon/kubelet_restart_policy.hpp"
#include "systemd/dbus.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace kcd::daemon {

class KubeletEffects {
 public:
  virtual ~KubeletEffects() = default;
  virtual Expected<systemd::UnitState> unit_state() = 0;
  // only_if_running: TryRestartUnit (never starts a stopped kubelet); else RestartUnit.
  virtual Expected<std::string> restart(bool only_if_running) = 0;
  // GET http://host:port/healthz answered 200 "ok".
  virtual bool healthz(const std::string& host, int port) = 0;
  virtual std::vector<std::string> journal_tail() = 0;
  // Waits `d`; false when a stop (SIGTERM) was requested meanwhile.
  virtual bool wait(std::chrono::milliseconds d) = 0;
  virtual std::chrono::steady_clock::time_point now() = 0;
};

// Where the kubelet answers healthz: healthzBindAddress:healthzPort of its config file
// (defaults 127.0.0.1:10248); port 0 turns healthz off, and the unit's state alone decides.
struct HealthEndpoint {
  std::string host = "127.0.0.1";
  int port = 10248;
};
HealthEndpoint health_endpoint(const std::string& kubelet_config_text);

struct HealthPolicy {
  std::chrono::seconds timeout{};          // kubeletHealthTimeout (its default is the settings table's)
  std::chrono::milliseconds settle{5000};  // must stay healthy this long
  std::chrono::milliseconds poll{500};
};

struct RestartCheck {
  enum class Result {
    Healthy,       // restarted, active (running), healthz ok, and stayed so
    Unhealthy,     // failed, crash-looping or silent within the bound: `detail` says which
    NotRestarted,  // the restart could not be requested (no system bus, access denied): `detail`
    Interrupted,   // a stop was requested while waiting
  } result = Result::Healthy;
  std::string detail;
};

// The unit as the restart policy needs to see it.
KubeletUnitSeen seen_unit(const Expected<systemd::UnitState>& unit);

// Performs what the policy decided (TryRestart or Restart; never None) and waits until the
// kubelet is healthy or the bound passes.
RestartCheck restart_and_check(KubeletEffects& fx, const HealthEndpoint& health, const HealthPolicy& policy,
                               RestartDecision::Action action);
// Waits for the kubelet as it runs now to be healthy (no restart): after a crash of ours
// between a change and its check.
RestartCheck check_health(KubeletEffects& fx, const HealthEndpoint& health, const HealthPolicy& policy);

// systemd over D-Bus, healthz over TCP, sd-journal and real time; `stop` ends waits early.
class SystemKubeletEffects : public KubeletEffects {
 public:
  SystemKubeletEffects(std::string unit, const std::atomic<bool>* stop)
      : unit_(std::move(unit)), stop_(stop) {}
  Expected<systemd::UnitState> unit_state() override;
  Expected<std::string> restart(bool only_if_running) override;
  bool healthz(const std::string& host, int port) override;
  std::vector<std::string> journal_tail() override;
  bool wait(std::chrono::milliseconds d) override;
  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }

 private:
  std::string unit_;
  const std::atomic<bool>* stop_;
};

}  // namespace kcd::daemon
