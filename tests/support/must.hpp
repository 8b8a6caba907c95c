// For test set-up code that cannot go on without a value: the value of an Expected, or a
// std::runtime_error with the error's text (gtest reports it as the test's failure).
#pragma once

#include "base/expected.hpp"

#include <stdexcept>
#include <utility>

namespace kcd::testing {

template <class T>
T must(Expected<T> e) {
  if (!e) throw std::runtime_error(e.error().format());
  return std::move(*e);
}

inline void must(const Expected<void>& e) {
  if (!e) throw std::runtime_error(e.error().format());
}

}  // namespace kcd::testing
