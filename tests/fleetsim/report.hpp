// A fleet run as the JSON summary kubelet-certd-fleetsim prints, and its per-minute series.
#pragma once

#include "tests/fleetsim/fleet.hpp"

#include <nlohmann/json.hpp>

#include <ostream>

namespace kcd::fleetsim {

nlohmann::json summary_json(const FleetReport& report);

// One line per minute: minute, hours since the start, CSRs created, requests, 429s, refused,
// CSR objects stored, 1 while the API server is down (tab-separated with a header line, which
// gnuplot reads as is).
void write_series(std::ostream& out, const FleetReport& report);

}  // namespace kcd::fleetsim
