// A small subset of C++23 std::expected for g++ 12 (C++20).
// The API names follow std:: (has_value, value, error, operator*, and_then) so the type can be
// swapped for std::expected once the toolchain has it. The error is held in a tagged wrapper
// (unexpected<E>), so expected<T, E> works even when T and E are the same type.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace ostls {

template <class E>
class unexpected {
public:
  explicit unexpected(E e) : error_(std::move(e)) {}
  [[nodiscard]] const E& error() const& { return error_; }
  [[nodiscard]] E& error() & { return error_; }
  [[nodiscard]] E&& error() && { return std::move(error_); }

private:
  E error_;
};

class bad_expected_access : public std::logic_error {
public:
  bad_expected_access() : std::logic_error("expected holds no value") {}
};

template <class T, class E>
class [[nodiscard]] expected {
public:
  using value_type = T;
  using error_type = E;

  expected() requires std::is_default_constructible_v<T> : v_(std::in_place_index<0>) {}
  expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit like std
  expected(unexpected<E> e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  [[nodiscard]] T& value() & { check(); return std::get<0>(v_); }
  [[nodiscard]] const T& value() const& { check(); return std::get<0>(v_); }
  [[nodiscard]] T&& value() && { check(); return std::get<0>(std::move(v_)); }
  [[nodiscard]] T& operator*() & { return value(); }
  [[nodiscard]] const T& operator*() const& { return value(); }
  [[nodiscard]] T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  [[nodiscard]] const E& error() const& { return std::get<1>(v_).error(); }
  [[nodiscard]] E& error() & { return std::get<1>(v_).error(); }
  [[nodiscard]] E&& error() && { return std::move(std::get<1>(v_)).error(); }

  template <class U>
  [[nodiscard]] T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }

  template <class F>
  auto and_then(F&& f) const& -> std::invoke_result_t<F, const T&> {
    if (has_value()) return std::invoke(std::forward<F>(f), std::get<0>(v_));
    return unexpected<E>(error());
  }

private:
  void check() const {
    if (!has_value()) throw bad_expected_access();
  }
  std::variant<T, unexpected<E>> v_;
};

template <class E>
class [[nodiscard]] expected<void, E> {
public:
  using value_type = void;
  using error_type = E;

  expected() = default;
  expected(unexpected<E> e) : error_(std::move(e).error()) {}  // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (!has_value()) throw bad_expected_access();
  }
  [[nodiscard]] const E& error() const& { return *error_; }
  [[nodiscard]] E& error() & { return *error_; }

private:
  std::optional<E> error_;
};

}  // namespace ostls
