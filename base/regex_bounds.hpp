// Every regular expression from outside (a setting, kube-bench definitions) is checked here before
// std::regex compiles it: libstdc++'s regex compiler reads a repetition count or a back-reference
// number into a `long` without an overflow check, and nested counts multiply into an automaton as
// large as memory. Within these bounds it does neither.
#pragma once

#include <regex>
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

// How such a pattern is compiled everywhere it is used: ECMAScript, matched by libstdc++'s
// breadth-first (Thompson) executor, in time linear in the text for a given pattern. The default
// backtracking executor takes exponential time on nested quantifiers: the approver's pattern
// `^([a-z0-9]+-?)*\.example\.com$` took 0.5 s on a 24-character name and doubles per
// character, and the name comes from a node's CSR. Back-references, which this executor cannot
// match, are refused by the bounds above.
inline constexpr std::regex::flag_type kBoundedRegexFlags = std::regex::ECMAScript
#ifdef __GLIBCXX__
                                                            | std::regex_constants::__polynomial
#endif
    ;

}  // namespace kcd
