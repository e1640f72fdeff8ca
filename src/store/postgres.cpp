// PostgreSQL engine (libpq): the store shared by several hosts running ostls. Parameters go
// separately from the SQL text (PQexecParams), values travel as text.
#include <libpq-fe.h>

#include <fmt/format.h>

#include "store/connection.hpp"

namespace ostls::store {
namespace {

struct ConnDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

class Postgres final : public Connection {
public:
  explicit Postgres(PGconn* conn) : conn_(conn) {}

  Result<std::vector<Row>> query(std::string_view sql, std::span<const Value> params) override {
    std::vector<std::string> texts;
    texts.reserve(params.size());
    std::vector<const char*> values;
    for (const auto& p : params) {
      if (std::holds_alternative<std::monostate>(p)) {
        texts.emplace_back();
        values.push_back(nullptr);
        continue;
      }
      texts.push_back(as_text(p));
      values.push_back(texts.back().c_str());
    }
    // texts never reallocates after reserve(), so the pointers above stay valid.
    const std::string text(sql);
    PgResult r(PQexecParams(conn_.get(), text.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                            nullptr, nullptr, 0));
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return error(r.get());
    std::vector<Row> rows;
    const int n = PQntuples(r.get());
    const int cols = PQnfields(r.get());
    for (int i = 0; i < n; ++i) {
      Row row;
      for (int c = 0; c < cols; ++c) {
        if (PQgetisnull(r.get(), i, c)) row.emplace_back(std::monostate{});
        else row.emplace_back(std::string(PQgetvalue(r.get(), i, c), static_cast<std::size_t>(PQgetlength(r.get(), i, c))));
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  Result<void> script(std::string_view sql) override {
    const std::string text(sql);
    PgResult r(PQexec(conn_.get(), text.c_str()));
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return error(r.get());
    return {};
  }

  Result<void> begin() override { return script("BEGIN"); }
  Result<void> commit() override { return script("COMMIT"); }
  void rollback() override { (void)script("ROLLBACK"); }
  Result<void> lock_for_migration() override {
    // Any constant shared by every ostls process; released at COMMIT/ROLLBACK.
    return script("SELECT pg_advisory_xact_lock(7435)");
  }
  std::string_view engine() const override { return "postgresql"; }

private:
  unexpected<Error> error(PGresult* r) const {
    std::string why = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_.get());
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return fail(Errc::Store, Fault::Local, fmt::format("postgresql: {}", why));
  }

  std::unique_ptr<PGconn, ConnDeleter> conn_;
};

}  // namespace

Result<std::unique_ptr<Connection>> open_postgres(const std::string& conninfo) {
  PGconn* raw = PQconnectdb(conninfo.c_str());
  auto conn = std::make_unique<Postgres>(raw);
  if (raw == nullptr || PQstatus(raw) != CONNECTION_OK) {
    std::string why = raw ? PQerrorMessage(raw) : "out of memory";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return fail(Errc::Store, Fault::Config, fmt::format("cannot connect to the PostgreSQL store: {}", why));
  }
  // Notices (e.g. "relation already exists, skipping") are not for the user's terminal.
  PQsetNoticeProcessor(raw, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Connection>(std::move(conn));
}

}  // namespace ostls::store
