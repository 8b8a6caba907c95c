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

// Accepts exactly "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)" with every field in range
// (a day that exists in its month, hour 00-23, minute and second 00-59, offset up to 23:59);
// nullopt otherwise.
std::optional<SysTime> parse_rfc3339(std::string_view text);

// Seconds since the epoch as a SysTime. A SysTime counts nanoseconds in 64 bits (years 1678-2262):
// times outside kMinSeconds..kMaxSeconds (a certificate's notAfter of 9999, RFC 5280's "no
// expiration") are clamped to them, which leaves years of room for the arithmetic done on them.
inline constexpr long long kMaxSeconds = 9'000'000'000LL;  // 2255-03-14
inline constexpr long long kMinSeconds = -kMaxSeconds;
SysTime sys_time_from_seconds(long long seconds);

}  // namespace kcd
