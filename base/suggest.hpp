// "Did you mean ...?": the closest known word to a misspelt one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd {

// Optimal-string-alignment (Damerau-Levenshtein) distance.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`: a case-insensitive match, or one within edit distance 2
// (1 for words of up to 4 characters); nullopt when nothing is close.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace kcd
