// Durations written the way kubelet users write them ("90s", "5m", "1h30m", "250ms").
#pragma once

#include "base/expected.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace kcd {

// Go's time.ParseDuration subset: a sequence of <decimal number><unit> with units ns, us, ms,
// s, m, h; "0" alone is zero. Read exactly: a value that is not a whole number of milliseconds
// ("1.5ms", "1ns") is refused, never rounded. Negative values, empty strings, missing or
// unknown units and overflow are errors too (ErrorKind::Config without a location; the message
// says what is wrong and gives examples).
Expected<std::chrono::milliseconds> parse_duration(std::string_view text);

// Compact Go-style rendering: "1h30m", "45s", "250ms", "0s".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace kcd
