// The state file in certDir (kubelet-certd-state.json): read and written atomically. The I/O
// half of rotation/state.hpp.
#pragma once

#include "rotation/state.hpp"

#include <filesystem>

namespace kcd::rotation {

// A missing file is an empty State. An unreadable one is an Io error; a corrupt one (see
// parse_state) is set aside as <file>.corrupt and a Corrupt error says so. On either error the
// caller logs it and starts from an empty State.
Expected<State> load_state(const std::filesystem::path& cert_dir);
// Atomic, 0600.
Expected<void> save_state(const std::filesystem::path& cert_dir, const State& state);

}  // namespace kcd::rotation
