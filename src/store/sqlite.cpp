// SQLite engine: WAL journal (readers never block the writer), a busy timeout so several ostls
// processes on one host queue for the write lock, synchronous=NORMAL (a crash loses at most the
// transaction being written, never the file's consistency).
#include <sqlite3.h>

#include <fmt/format.h>

#include "store/connection.hpp"

namespace ostls::store {
namespace {

struct DbDeleter {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};

class Sqlite final : public Connection {
public:
  explicit Sqlite(sqlite3* db) : db_(db) {}

  Result<std::vector<Row>> query(std::string_view sql, std::span<const Value> params) override {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
      return error("prepare");
    }
    std::unique_ptr<sqlite3_stmt, StmtDeleter> stmt(raw);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      int rc = SQLITE_OK;
      if (const auto* n = std::get_if<std::int64_t>(&params[i])) rc = sqlite3_bind_int64(raw, index, *n);
      else if (const auto* s = std::get_if<std::string>(&params[i]))
        rc = sqlite3_bind_text(raw, index, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
      else rc = sqlite3_bind_null(raw, index);
      if (rc != SQLITE_OK) return error("bind");
    }
    std::vector<Row> rows;
    for (;;) {
      const int rc = sqlite3_step(raw);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return error("step");
      Row row;
      const int n = sqlite3_column_count(raw);
      for (int c = 0; c < n; ++c) {
        switch (sqlite3_column_type(raw, c)) {
          case SQLITE_NULL: row.emplace_back(std::monostate{}); break;
          case SQLITE_INTEGER: row.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(raw, c))); break;
          default: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, c));
            row.emplace_back(std::string(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(raw, c))));
          }
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  Result<void> script(std::string_view sql) override {
    const std::string text(sql);
    char* message = nullptr;
    if (sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string why = message ? message : sqlite3_errmsg(db_.get());
      sqlite3_free(message);
      return fail(Errc::Store, Fault::Local, fmt::format("sqlite: {}", why));
    }
    return {};
  }

  Result<void> begin() override { return script("BEGIN IMMEDIATE"); }
  Result<void> commit() override { return script("COMMIT"); }
  void rollback() override { (void)script("ROLLBACK"); }
  Result<void> lock_for_migration() override { return {}; }
  std::string_view engine() const override { return "sqlite"; }

private:
  Error error_value(std::string_view what) const {
    return Error{Errc::Store, Fault::Local, fmt::format("sqlite {}: {}", what, sqlite3_errmsg(db_.get()))};
  }
  unexpected<Error> error(std::string_view what) const { return unexpected<Error>(error_value(what)); }

  std::unique_ptr<sqlite3, DbDeleter> db_;
};

}  // namespace

Result<std::unique_ptr<Connection>> open_sqlite(const std::string& path) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  auto db = std::make_unique<Sqlite>(raw);  // owns the handle even when opening failed
  if (rc != SQLITE_OK) {
    return fail(Errc::Store, Fault::Config, fmt::format("cannot open store {}: {}", path, sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(raw, 10000);
  auto pragmas = db->script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  if (!pragmas) return unexpected<Error>(pragmas.error());
  return std::unique_ptr<Connection>(std::move(db));
}

}  // namespace ostls::store
