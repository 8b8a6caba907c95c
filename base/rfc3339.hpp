// RFC 3339 timestamps (UTC, "Z"), the form Kubernetes, our state file and status output use.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kcd {

using SysTime = std::chrono::system_clock::time_point;

// "2026-11-22T10:32:28Z"; with_millis adds ".123".
std::string to_rfc3339(SysTime t, bool with_millis = false);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)"; nullopt otherwise.
std::optional<SysTime> parse_rfc3339(std::string_view text);

}  // namespace kcd
