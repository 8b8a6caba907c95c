#include "daemon/agent_driver.hpp"

#include "base/files.hpp"
#include "rotation/store/state_file.hpp"
#include "systemd/log.hpp"

#include <boost/asio/co_spawn.hpp>

namespace kcd::daemon {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using rotation::CertKind;
using rotation::Step;

AgentDriver::AgentDriver(asio::io_context& io_context, config::Settings s, AgentTimings t, AgentEvents e,
                         AgentEffects fx)
    : io(io_context),
      settings(std::move(s)),
      node{settings.node_name, settings.serving_dns_names, settings.serving_ips, settings.key_algorithm},
      timings(t),
      events(std::move(e)),
      effects(std::move(fx)),
      uniform01(rotation::system_uniform01()),
      keygen_calls(io_context, kMaxKeyGenerations),
      node_events(io_context, settings.node_name) {}

CertificateRun& AgentDriver::run_of(CertKind kind) {
  auto& s = runs[static_cast<int>(kind)];
  if (!s) {
    rotation::LifecyclePolicy policy;
    policy.backoff = timings.backoff;
    policy.window = {settings.rotation_window_from, settings.rotation_window_to};
    policy.csr_create_interval = settings.csr_create_interval;
    s = std::make_unique<CertificateRun>(CertificateRun{kind,
                                                        effects.stores(kind),
                                                        rotation::Lifecycle(kind, policy, uniform01),
                                                        nullptr,
                                                        std::nullopt,
                                                        nullptr,
                                                        nullptr,
                                                        nullptr,
                                                        false,
                                                        false,
                                                        {},
                                                        {},
                                                        {},
                                                        std::nullopt});
  }
  return *s;
}

void AgentDriver::load_state_once() {
  if (state_loaded) return;
  state_loaded = true;
  // Half-written files of a process that died mid-write (we hold the instance lock).
  for (const auto& [dir, prefix] :
       {std::pair{settings.cert_dir, std::string("kubelet-")},
        std::pair{settings.kubeconfig.parent_path(), settings.kubeconfig.filename().string()}}) {
    for (const auto& p : kcd::remove_stale_temp_files(dir, prefix))
      log::info("stale temporary file removed", {{"path", p}});
  }
  auto loaded = rotation::load_state(settings.cert_dir);
  if (!loaded)
    log::warn("state file ignored",
              {{"path", settings.cert_dir / rotation::kStateFileName}, {"error", loaded.error().format()}});
  state = loaded ? *loaded : rotation::State{};
  saved_state = state;
}

void AgentDriver::persist(CertificateRun& s) {
  state.of(s.kind) = s.machine.persistent();
  if (state == saved_state) return;
  auto saved = kcd::ensure_directory(settings.cert_dir, 0755);
  if (saved) saved = rotation::save_state(settings.cert_dir, state);
  if (!saved) {
    log::error("state file not written",
               {{"path", settings.cert_dir / rotation::kStateFileName}, {"error", saved.error().format()}});
    return;
  }
  saved_state = state;
}

void AgentDriver::report(CertificateRun& s) {
  std::string status = std::string(to_string(s.kind)) + ": " + s.machine.reason();
  if (status != s.last_status) {
    s.last_status = status;
    if (events.status) events.status(s.kind, status);
  }
  if (events.condition) events.condition(s.kind, s.machine.condition());
}

Agent::Agent(asio::io_context& io, config::Settings settings, AgentTimings timings, AgentEvents events,
             AgentEffects effects)
    : driver_(std::make_unique<AgentDriver>(io, std::move(settings), timings, std::move(events),
                                            std::move(effects))) {}

Agent::~Agent() = default;

asio::awaitable<void> Agent::run(CertKind kind) {
  AgentDriver& driver = *driver_;
  CertificateRun& s = driver.run_of(kind);
  while (!driver.stop_requested) {
    const Step st = s.machine.next(driver.now());
    log::debug(
        "step",
        {{"cert", to_string(kind)}, {"step", to_string(st.kind)}, {"phase", to_string(s.machine.phase())}});
    co_await driver.step(s, st);
    driver.persist(s);
    driver.report(s);
    driver.check_expiring(s);
    driver.node_events.flush(driver.node_api_opener());
  }
}

asio::awaitable<void> Agent::follow_cluster_ca() {
  co_await driver_->follow_cluster_ca();
}

void Agent::stop() {
  driver_->stop_requested = true;
  driver_->node_events.stop();
  if (driver_->ca_sleeper) driver_->ca_sleeper->cancel();
  if (driver_->ca_request) driver_->ca_request->cancel();
  if (driver_->effects.close_connections) driver_->effects.close_connections();
  for (auto& s : driver_->runs) {
    if (!s) continue;
    if (s->sleeper) s->sleeper->cancel();
    if (s->active_request) s->active_request->cancel();
    if (s->off_loop) s->off_loop->cancel();
  }
}

bool Agent::stopping() const {
  return driver_->stop_requested;
}

void Agent::renew(CertKind kind) {
  auto& s = driver_->run_of(kind);
  s.renew_requested = true;
  if (s.sleeper) s.sleeper->cancel();
}

void Agent::clock_changed() {
  for (auto& s : driver_->runs) {
    if (s && s->sleeper) s->sleeper->cancel();
  }
}

void Agent::kubelet_config_rolled_back(const std::string& detail) {
  driver_->post_event("Warning", "KubeletConfigRolledBack", detail, "");
}

ClusterCaCounts Agent::cluster_ca_counts() const {
  return driver_->ca_counts;
}

EventCounts Agent::event_counts() const {
  return driver_->node_events.counts();
}

const rotation::Lifecycle* Agent::lifecycle(CertKind kind) const {
  const auto& s = driver_->runs[static_cast<int>(kind)];
  return s ? &s->machine : nullptr;
}
}  // namespace kcd::daemon
