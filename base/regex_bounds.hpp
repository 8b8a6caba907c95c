// Every regular expression from outside (a setting, kube-bench definitions) is checked here before
// std::regex compiles it: libstdc++'s regex compiler reads a repetition count or a back-reference
// number into a `long` without an overflow check, and nested counts multiply into an automaton as
// large as memory. Within these bounds it does neither.
#pragma once

#include <string>
#include <string_view>

namespace kcd {

// The largest repetition count ({n}, {n,m}); a DNS name is at most 253 characters.
inline constexpr int kMaxRegexRepetition = 255;

// "" when `pattern` (ECMAScript) is within bounds, else what is wrong with it, as a predicate
// ("has a repetition count over 255"):
// - printable ASCII only;
// - repetition counts of at most 3 digits and at most kMaxRegexRepetition;
// - no back-references;
// - groups nested at most 32 deep;
// - at most 10,000 automaton states as estimated from the nesting of its quantifiers.
// Whether std::regex accepts it is still std::regex's to say.
std::string regex_bounds_problem(std::string_view pattern);

}  // namespace kcd
