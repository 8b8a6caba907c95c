// Numbers read from text exactly: what is stored is what was written, or an error says why not.
#pragma once

#include "base/expected.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace kcd {

// A whole number in decimal digits, optionally negative, within [min, max]. Refused: an empty
// text, spaces, a '+', fractions ("1.5"), exponents ("1e3"), hex ("0x10"), a leading zero
// ("0600": YAML 1.1 reads it as octal), "nan"/"inf", and anything after the digits ("5x").
// Errors are ErrorKind::Config without a location (the caller knows where the text came from).
Expected<std::int64_t> parse_whole_number(std::string_view text, std::int64_t min, std::int64_t max);

// A decimal number with at most `decimals` digits after the point, returned scaled by
// 10^decimals ("70.5" with decimals 2 -> 7050), within [min_scaled, max_scaled]. The same
// refusals as parse_whole_number; more decimals than allowed is an error, never a rounding.
Expected<std::int64_t> parse_decimal(std::string_view text, int decimals, std::int64_t min_scaled,
                                     std::int64_t max_scaled);

// "7050" scaled by 2 decimals -> "70.5" (no trailing zeros).
std::string format_decimal(std::int64_t scaled, int decimals);

}  // namespace kcd
