// The state file in certDir (kubelet-certd-state.json): read and written atomically. The I/O
// half of rotation/state.hpp.
#pragma once

#include "rotation/state.hpp"

#include <filesystem>

namespace kcd::rotation {

// A missing file is an empty State; an unreadable or corrupt one is an empty State with a warning.
StateLoad load_state(const std::filesystem::path& cert_dir);
// Atomic, 0600. Throws FileError.
void save_state(const std::filesystem::path& cert_dir, const State& state);

}  // namespace kcd::rotation
