// kubelet-certd-fleetsim: runs a fleet of production rotation lifecycles through a scenario in
// virtual time and prints one JSON summary.
#include "tests/fleetsim/report.hpp"
#include "tests/fleetsim/scenarios.hpp"

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

int main(int argc, char** argv) {
  using namespace kcd::fleetsim;
  CLI::App app{
      "Simulates N kubelet-certd nodes (the production rotation::Lifecycle) against a modelled API server"};
  int nodes = 10000;
  std::string name;
  std::uint64_t seed = 1;
  std::optional<double> days, capacity, deny_share, backoff_initial, backoff_cap;
  std::string series_file;
  std::vector<std::string> names(scenario_names().begin(), scenario_names().end());
  app.add_option("--nodes", nodes, "Number of nodes")->check(CLI::Range(1, 1000000))->capture_default_str();
  app.add_option("--scenario", name, "Scenario")->required()->check(CLI::IsMember(names));
  app.add_option("--seed", seed, "Random seed (same seed, same figures)")->capture_default_str();
  app.add_option("--days", days, "Simulated days instead of the scenario's")->check(CLI::PositiveNumber);
  app.add_option("--capacity", capacity, "API server capacity in requests per second")
      ->check(CLI::PositiveNumber);
  app.add_option("--deny-share", deny_share, "Share of serving CSRs the approver denies")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--backoff-initial", backoff_initial,
                 "What-if: the first backoff ceiling in seconds (production: 1)")
      ->check(CLI::PositiveNumber);
  app.add_option("--backoff-cap", backoff_cap, "What-if: the backoff cap in seconds (production: 300)")
      ->check(CLI::PositiveNumber);
  app.add_option("--series", series_file, "Write requests, CSRs and 429s per minute to this file (TSV)");
  CLI11_PARSE(app, argc, argv);

  FleetConfig config = *scenario(name, nodes, seed);
  if (days) config.duration = Seconds(static_cast<Seconds::rep>(*days * 86400));
  if (capacity) config.api.capacity_per_second = *capacity;
  if (deny_share) config.api.deny_share = *deny_share;
  const auto millis = [](double seconds) { return kcd::fleetsim::Millis(static_cast<long>(seconds * 1000)); };
  if (backoff_initial) config.policy.backoff.initial = millis(*backoff_initial);
  if (backoff_cap) config.policy.backoff.cap = millis(*backoff_cap);
  try {
    const FleetReport report = simulate(config);
    if (!series_file.empty()) {
      std::ofstream out(series_file);
      write_series(out, report);
      if (!out) {
        std::cerr << "kubelet-certd-fleetsim: cannot write " << series_file << "\n";
        return 1;
      }
    }
    std::cout << summary_json(report).dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "kubelet-certd-fleetsim: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
