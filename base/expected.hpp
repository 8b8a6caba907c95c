// A minimal std::expected stand-in (GCC 12 has no <expected>): expected outcomes are values.
#pragma once

#include "base/error.hpp"

#include <cassert>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace kcd {

template <class E>
class Unexpected {
 public:
  explicit Unexpected(E error) : error_(std::move(error)) {}
  E& error() & { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_;
};

template <class E>
Unexpected(E) -> Unexpected<E>;

// Holds either a T or an error E (kcd::Error unless a unit has a reason to differ). Accessing
// the wrong side throws std::logic_error (a programming bug, never an expected outcome).
template <class T, class E = Error>
class [[nodiscard]] Expected {
 public:
  // Implicit by design, like std::expected: `return value;` and `return Unexpected(e);`.
  // NOLINTNEXTLINE(google-explicit-constructor)
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  template <class G>
  // NOLINTNEXTLINE(google-explicit-constructor)
  Expected(Unexpected<G> u) : v_(std::in_place_index<1>, std::move(u.error())) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    check(true);
    return std::get<0>(v_);
  }
  const T& value() const& {
    check(true);
    return std::get<0>(v_);
  }
  T&& value() && {
    check(true);
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  E& error() & {
    check(false);
    return std::get<1>(v_);
  }
  const E& error() const& {
    check(false);
    return std::get<1>(v_);
  }
  E&& error() && {
    check(false);
    return std::get<1>(std::move(v_));
  }

 private:
  void check(bool want_value) const {
    if (has_value() != want_value) {
      throw std::logic_error(want_value ? "Expected: value() on an error" : "Expected: error() on a value");
    }
  }
  std::variant<T, E> v_;
};

// Expected<void, E>: success carries nothing.
template <class E>
class [[nodiscard]] Expected<void, E> {
 public:
  Expected() = default;
  template <class G>
  // NOLINTNEXTLINE(google-explicit-constructor)
  Expected(Unexpected<G> u) : error_(std::move(u.error())), ok_(false) {}

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const& {
    if (ok_) throw std::logic_error("Expected: error() on a value");
    return error_;
  }
  E& error() & {
    if (ok_) throw std::logic_error("Expected: error() on a value");
    return error_;
  }

 private:
  E error_{};
  bool ok_ = true;
};

}  // namespace kcd
