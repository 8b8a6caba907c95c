// Scenario definitions. Every run but `bootstrap` starts from a fleet whose certificates were all
// issued in the same minute (the worst case for rotations falling due together), and places its
// trouble in the middle of the first rotation window (80 % of the lifetime), when the most
// lifecycles need the API server.
#include "tests/fleetsim/scenarios.hpp"

namespace kcd::fleetsim {

using namespace std::chrono_literals;

namespace {

constexpr Seconds kDay = 24h;
constexpr Seconds kYear = 365 * kDay;

FleetConfig base(std::string_view name, int nodes, std::uint64_t seed, Seconds lifetime, Seconds duration) {
  FleetConfig c;
  c.scenario = std::string(name);
  c.nodes = nodes;
  c.seed = seed;
  c.lifetime = lifetime;
  c.duration = duration;
  c.policy = production_policy();
  return c;
}

// The middle of the first rotation window.
SysTime mid_window(const FleetConfig& c) {
  const double middle = (c.policy.window.from + c.policy.window.to) / 2;
  return epoch() + Seconds(static_cast<Seconds::rep>(middle * static_cast<double>(c.lifetime.count())));
}

FleetConfig with_outage(FleetConfig c, Seconds length) {
  const SysTime from = mid_window(c);
  c.api.outages.push_back(Window{from, from + length});
  c.disturbance = c.api.outages.back();
  return c;
}

}  // namespace

const std::vector<std::string_view>& scenario_names() {
  static const std::vector<std::string_view> names = {"bootstrap",  "steady-1y", "steady-24h",
                                                      "outage-10m", "outage-6h", "approver-down"};
  return names;
}

std::optional<FleetConfig> scenario(std::string_view name, int nodes, std::uint64_t seed) {
  if (name == "bootstrap") {
    // Every node starts with nothing within one minute; three hours show the CSRs collected.
    FleetConfig c = base(name, nodes, seed, kYear, 3h);
    c.start = Start::Bootstrap;
    c.disturbance = Window{epoch(), epoch() + c.start_spread};
    return c;
  }
  if (name == "steady-1y") return base(name, nodes, seed, kYear, kYear);
  if (name == "steady-24h") return base(name, nodes, seed, kDay, kYear);
  if (name == "outage-10m") return with_outage(base(name, nodes, seed, kDay, 3 * kDay), 10min);
  if (name == "outage-6h") return with_outage(base(name, nodes, seed, kDay, 3 * kDay), 6h);
  if (name == "approver-down") {
    // Serving certificates of a year (the signer's default duration): a day without the approver
    // leaves every serving rotation that falls due meanwhile Pending.
    FleetConfig c = base(name, nodes, seed, kYear, kYear);
    const SysTime from = mid_window(c);
    c.api.serving_approver_down.push_back(Window{from, from + kDay});
    c.disturbance = c.api.serving_approver_down.back();
    return c;
  }
  return std::nullopt;
}

}  // namespace kcd::fleetsim
