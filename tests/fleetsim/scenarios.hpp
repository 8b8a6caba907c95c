// The named scenarios of kubelet-certd-fleetsim: what the fleet starts with and what goes wrong.
#pragma once

#include "tests/fleetsim/fleet.hpp"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace kcd::fleetsim {

const std::vector<std::string_view>& scenario_names();

// The scenario's fleet of `nodes` with the production policy; none for an unknown name.
std::optional<FleetConfig> scenario(std::string_view name, int nodes, std::uint64_t seed);

}  // namespace kcd::fleetsim
