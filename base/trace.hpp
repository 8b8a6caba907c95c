// Phase marks for the bench: when the environment variable KCD_TRACE names a file, each mark
// appends one line "<phase> <CLOCK_MONOTONIC nanoseconds>" to it, so another process on the same
// machine can place the daemon's phases on its own clock. Off (the variable unset): one branch.
#pragma once

#include <string_view>

namespace kcd::trace {

// Whether KCD_TRACE is set: callers that build a phase name check it first.
bool enabled();

// Appends `phase` (a short lowercase word, "post-start") with the time now. Never fails the
// caller: a file that cannot be written loses the mark.
void mark(std::string_view phase);

}  // namespace kcd::trace
