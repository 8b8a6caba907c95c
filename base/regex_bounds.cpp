#include "base/regex_bounds.hpp"

#include <algorithm>
#include <cctype>

namespace kcd {

namespace {

// What std::regex (libstdc++) would build for an ECMAScript pattern, bounded before it is asked
// to: its compiler reads a repetition count or a back-reference number into a `long` without an
// overflow check (UBSan: signed overflow; found by the settings fuzz target), and nested counts
// multiply into an automaton as large as memory.
class PatternBounds {
 public:
  explicit PatternBounds(std::string_view p) : p_(p) {}

  // "" when the pattern is within bounds, else what is wrong with it.
  std::string check() {
    for (const unsigned char c : p_) {
      if (c < 0x20 || c > 0x7e) return "has a byte that is not printable ASCII";
    }
    double states = disjunction();
    // An unmatched ')' ends the top level early: the rest is checked all the same.
    while (error_.empty() && !at_end()) {
      ++i_;
      states += disjunction();
    }
    if (!error_.empty()) return error_;
    if (states > kMaxStates) return "would build more than 10000 automaton states (nested repetition counts)";
    return {};
  }

 private:
  static constexpr double kMaxStates = 10000;
  static constexpr int kMaxCount = kMaxRegexRepetition;
  static constexpr int kMaxDepth = 32;

  bool at_end() const { return i_ >= p_.size(); }
  char peek() const { return p_[i_]; }

  double disjunction() {
    double size = alternative();
    while (error_.empty() && !at_end() && peek() == '|') {
      ++i_;
      size += 1 + alternative();
    }
    return size;
  }

  double alternative() {
    double size = 0;
    while (error_.empty() && !at_end() && peek() != '|' && peek() != ')') size += term();
    return size;
  }

  // An atom and every quantifier after it: libstdc++ applies stacked quantifiers one after the
  // other ("a{7}+++{6}" clones a{7} again for each), so each multiplies (the settings fuzz target
  // found patterns of stacked quantifiers estimated as a handful of states).
  double term() {
    double size = atom();
    while (error_.empty() && !at_end()) {
      double factor = 1;
      switch (peek()) {
        case '*':
        case '?':
        case '+':
          ++i_;
          factor = 2;
          break;
        case '{': {
          ++i_;
          const int low = count();
          int high = low;
          if (error_.empty() && !at_end() && peek() == ',') {
            ++i_;
            high = (!at_end() && peek() != '}') ? count() : low + 1;
          }
          if (!at_end() && peek() == '}') ++i_;
          factor = std::max(1, std::max(low, high));
          break;
        }
        default:
          return size;
      }
      if (!at_end() && peek() == '?') ++i_;  // lazy
      size = std::min(size * factor, 1e12);
    }
    return size;
  }

  // A repetition count: at most 3 digits, at most kMaxCount.
  int count() {
    std::size_t digits = 0;
    int value = 0;
    while (!at_end() && std::isdigit(static_cast<unsigned char>(peek())) != 0) {
      if (++digits > 3) {
        error_ = "has a repetition count of more than 3 digits (at most " + std::to_string(kMaxCount) + ")";
        return 0;
      }
      value = value * 10 + (peek() - '0');
      ++i_;
    }
    if (value > kMaxCount) error_ = "has a repetition count over " + std::to_string(kMaxCount);
    return value;
  }

  void escape() {
    ++i_;                  // the backslash
    if (at_end()) return;  // std::regex reports it
    if (peek() >= '1' && peek() <= '9') {
      error_ = "has a back-reference (\\" + std::string(1, peek()) + "), which is not supported";
      return;
    }
    ++i_;
  }

  double atom() {
    switch (peek()) {
      case '(': {
        ++i_;
        if (++depth_ > kMaxDepth) {
          error_ = "nests groups more than " + std::to_string(kMaxDepth) + " deep";
          return 0;
        }
        if (!at_end() && peek() == '?') i_ = std::min(i_ + 2, p_.size());  // (?: (?= (?!
        const double inner = disjunction();
        --depth_;
        if (!at_end() && peek() == ')') ++i_;
        return inner + 1;
      }
      case '[':
        ++i_;
        if (!at_end() && peek() == '^') ++i_;
        while (error_.empty() && !at_end() && peek() != ']') {
          if (peek() == '\\') {
            escape();
          } else {
            ++i_;
          }
        }
        if (!at_end()) ++i_;
        return 1;
      case '\\':
        escape();
        return 1;
      case '{':
        ++i_;
        (void)count();  // a brace where no quantifier can be: its digits are read all the same
        return 1;
      default:
        ++i_;
        return 1;
    }
  }

  std::string_view p_;
  std::size_t i_ = 0;
  int depth_ = 0;
  std::string error_;
};

}  // namespace

std::string regex_bounds_problem(std::string_view pattern) {
  return PatternBounds(pattern).check();
}

}  // namespace kcd
