// PostgreSQL engine (libpq): the store shared by several hosts running ostls. Parameters go
// separately from the SQL text (PQexecParams), values travel as text.
// libpq is loaded when a PostgreSQL store is opened, not linked (core/dynlib.hpp): it pulls in
// Kerberos, LDAP, SASL and GnuTLS (20 more shared objects, about 6 ms of start-up per process
// measured here).
#include <libpq-fe.h>

#include <fmt/format.h>

#include "core/dynlib.hpp"
#include "store/connection.hpp"

namespace ostls::store {
namespace {

// The libpq functions the engine calls, resolved once from libpq.so.5.
struct Libpq {
  decltype(&PQconnectdb) connectdb = nullptr;
  decltype(&PQstatus) status = nullptr;
  decltype(&PQerrorMessage) error_message = nullptr;
  decltype(&PQfinish) finish = nullptr;
  decltype(&PQexecParams) exec_params = nullptr;
  decltype(&PQexec) exec = nullptr;
  decltype(&PQresultStatus) result_status = nullptr;
  decltype(&PQresultErrorMessage) result_error_message = nullptr;
  decltype(&PQntuples) ntuples = nullptr;
  decltype(&PQnfields) nfields = nullptr;
  decltype(&PQgetisnull) getisnull = nullptr;
  decltype(&PQgetvalue) getvalue = nullptr;
  decltype(&PQgetlength) getlength = nullptr;
  decltype(&PQclear) clear = nullptr;
  decltype(&PQsetNoticeProcessor) set_notice_processor = nullptr;
};

// nullptr (and `why`) when libpq cannot be loaded; the handle stays loaded for the process.
const Libpq* libpq(std::string& why) {
  static const Libpq* loaded = [&]() -> const Libpq* {
    void* lib = dynlib::open("libpq.so.5", why);
    if (lib == nullptr) return nullptr;
    using dynlib::resolve;
    static Libpq pq;
    const bool ok = resolve(lib, "PQconnectdb", pq.connectdb) && resolve(lib, "PQstatus", pq.status) &&
                    resolve(lib, "PQerrorMessage", pq.error_message) && resolve(lib, "PQfinish", pq.finish) &&
                    resolve(lib, "PQexecParams", pq.exec_params) && resolve(lib, "PQexec", pq.exec) &&
                    resolve(lib, "PQresultStatus", pq.result_status) &&
                    resolve(lib, "PQresultErrorMessage", pq.result_error_message) &&
                    resolve(lib, "PQntuples", pq.ntuples) && resolve(lib, "PQnfields", pq.nfields) &&
                    resolve(lib, "PQgetisnull", pq.getisnull) && resolve(lib, "PQgetvalue", pq.getvalue) &&
                    resolve(lib, "PQgetlength", pq.getlength) && resolve(lib, "PQclear", pq.clear) &&
                    resolve(lib, "PQsetNoticeProcessor", pq.set_notice_processor);
    if (!ok) {
      why = "libpq.so.5 lacks a function ostls needs";
      return nullptr;
    }
    return &pq;
  }();
  if (loaded == nullptr && why.empty()) why = "libpq.so.5 could not be loaded earlier in this process";
  return loaded;
}

struct ConnDeleter {
  const Libpq* pq = nullptr;
  void operator()(PGconn* c) const noexcept { pq->finish(c); }
};
struct ResultDeleter {
  const Libpq* pq = nullptr;
  void operator()(PGresult* r) const noexcept { pq->clear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

class Postgres final : public Connection {
public:
  Postgres(const Libpq& pq, PGconn* conn) : pq_(pq), conn_(conn, ConnDeleter{&pq}) {}

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
    PgResult r(pq_.exec_params(conn_.get(), text.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                               nullptr, nullptr, 0),
               ResultDeleter{&pq_});
    const auto status = pq_.result_status(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return error(r.get());
    std::vector<Row> rows;
    const int n = pq_.ntuples(r.get());
    const int cols = pq_.nfields(r.get());
    for (int i = 0; i < n; ++i) {
      Row row;
      for (int c = 0; c < cols; ++c) {
        if (pq_.getisnull(r.get(), i, c)) row.emplace_back(std::monostate{});
        else row.emplace_back(std::string(pq_.getvalue(r.get(), i, c), static_cast<std::size_t>(pq_.getlength(r.get(), i, c))));
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  Result<void> script(std::string_view sql) override {
    const std::string text(sql);
    PgResult r(pq_.exec(conn_.get(), text.c_str()), ResultDeleter{&pq_});
    const auto status = pq_.result_status(r.get());
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
    std::string why = r ? pq_.result_error_message(r) : pq_.error_message(conn_.get());
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return fail(Errc::Store, Fault::Local, fmt::format("postgresql: {}", why));
  }

  const Libpq& pq_;
  std::unique_ptr<PGconn, ConnDeleter> conn_;
};

}  // namespace

Result<std::unique_ptr<Connection>> open_postgres(const std::string& conninfo) {
  std::string load_error;
  const Libpq* pq = libpq(load_error);
  if (pq == nullptr) {
    return fail(Errc::Store, Fault::Config,
                fmt::format("a PostgreSQL store needs libpq (Debian package libpq5): {}", load_error));
  }
  PGconn* raw = pq->connectdb(conninfo.c_str());
  auto conn = std::make_unique<Postgres>(*pq, raw);
  if (raw == nullptr || pq->status(raw) != CONNECTION_OK) {
    std::string why = raw ? pq->error_message(raw) : "out of memory";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return fail(Errc::Store, Fault::Config, fmt::format("cannot connect to the PostgreSQL store: {}", why));
  }
  // Notices (e.g. "relation already exists, skipping") are not for the user's terminal.
  pq->set_notice_processor(raw, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Connection>(std::move(conn));
}

}  // namespace ostls::store
