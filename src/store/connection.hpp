// The one seam between the store's SQL and a database engine: run a statement with positional
// parameters ($1, $2, … in both dialects — SQLite reads "$1" as a named parameter whose index
// is its first appearance, so statements number them in order) and get rows of values back.
// Two real engines: SQLite (one file, WAL, the embedded default) and PostgreSQL (libpq, the
// store shared by several hosts). Internal to store/.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.hpp"

namespace ostls::store {

using Value = std::variant<std::monostate, std::int64_t, std::string>;  // NULL, integer, text
using Row = std::vector<Value>;

class Connection {
public:
  virtual ~Connection() = default;
  // One statement; the rows it returns (none for writes).
  [[nodiscard]] virtual Result<std::vector<Row>> query(std::string_view sql, std::span<const Value> params) = 0;
  // Several statements without parameters (schema migrations).
  [[nodiscard]] virtual Result<void> script(std::string_view sql) = 0;
  // A write transaction: taken at once (SQLite BEGIN IMMEDIATE), so concurrent writers queue
  // behind the busy timeout instead of failing half-way.
  [[nodiscard]] virtual Result<void> begin() = 0;
  [[nodiscard]] virtual Result<void> commit() = 0;
  virtual void rollback() = 0;
  // Serialises schema migrations across processes (PostgreSQL: an advisory lock held to the end
  // of the transaction; SQLite: BEGIN IMMEDIATE already does).
  [[nodiscard]] virtual Result<void> lock_for_migration() = 0;
  [[nodiscard]] virtual std::string_view engine() const = 0;  // "sqlite" | "postgresql"
};

[[nodiscard]] Result<std::unique_ptr<Connection>> open_sqlite(const std::string& path);
[[nodiscard]] Result<std::unique_ptr<Connection>> open_postgres(const std::string& conninfo);

// Text or integer as an integer (PostgreSQL returns text); 0 for NULL or garbage.
[[nodiscard]] std::int64_t as_int(const Value& v);
[[nodiscard]] std::string as_text(const Value& v);
[[nodiscard]] bool is_null(const Value& v);

}  // namespace ostls::store
