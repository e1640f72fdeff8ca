// Name tables for closed vocabularies: one constexpr array per enum, in enumerator order,
// from which both printing and parsing are derived (STYLE habit 2). `covers()` is used in a
// static_assert next to every table so that a new enumerator without a row fails to compile.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace ostls {

template <class E>
struct Named {
  E value;
  std::string_view name;
};

// True when row i of the table names enumerator i and the table has `count` rows.
template <class Row, std::size_t N>
constexpr bool covers(const std::array<Row, N>& table, std::size_t count) {
  if (N != count) return false;
  for (std::size_t i = 0; i < N; ++i) {
    if (static_cast<std::size_t>(table[i].value) != i) return false;
  }
  return true;
}

template <class Row, std::size_t N, class E>
constexpr std::string_view name_in(const std::array<Row, N>& table, E value) {
  const auto i = static_cast<std::size_t>(value);
  return i < N ? table[i].name : std::string_view{"?"};
}

template <class Row, std::size_t N>
constexpr auto parse_in(const std::array<Row, N>& table, std::string_view name)
    -> std::optional<decltype(table[0].value)> {
  for (const auto& row : table) {
    if (row.name == name) return row.value;
  }
  return std::nullopt;
}

}  // namespace ostls
