#include "store/store.hpp"

#include <array>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "store/connection.hpp"

namespace ostls::store {
namespace {

// Schema migrations, in order: migration i takes the schema from version i to i+1. Never edit
// a released one; append. The SQL is the common subset of SQLite and PostgreSQL.
constexpr std::array<std::string_view, 3> migrations{
    R"sql(
CREATE TABLE IF NOT EXISTS pins (
  host TEXT NOT NULL, port INTEGER NOT NULL, protocol TEXT NOT NULL,
  spki_sha256 TEXT NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,
  PRIMARY KEY (host, port, protocol));
CREATE TABLE IF NOT EXISTS memory (
  host TEXT NOT NULL, port INTEGER NOT NULL, protocol TEXT NOT NULL,
  last_starttls BIGINT, last_tls BIGINT, last_seen BIGINT NOT NULL,
  PRIMARY KEY (host, port, protocol));
CREATE TABLE IF NOT EXISTS outcomes (
  at BIGINT NOT NULL, policy_domain TEXT NOT NULL, policy_type TEXT NOT NULL,
  mx_host TEXT NOT NULL, address TEXT NOT NULL, success INTEGER NOT NULL,
  result_type TEXT, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outcomes_by_domain ON outcomes (policy_domain, at);
)sql",
    // TLS-RPT (RFC 8460 §4.4): the sending-mta-ip of each session and the policy-string of the
    // policy applied (one line each: TLSA records, MTA-STS policy lines).
    R"sql(
ALTER TABLE outcomes ADD COLUMN sending_address TEXT NOT NULL DEFAULT '';
ALTER TABLE outcomes ADD COLUMN policy_string TEXT NOT NULL DEFAULT '';
)sql",
    // MTA-STS (RFC 8461 §5.1): the policy of each policy domain as fetched, with the TXT id it
    // was fetched under, kept until fetched_at + max_age.
    R"sql(
CREATE TABLE IF NOT EXISTS mta_sts (
  policy_domain TEXT NOT NULL PRIMARY KEY, policy_id TEXT NOT NULL, body TEXT NOT NULL,
  fetched_at BIGINT NOT NULL, max_age BIGINT NOT NULL);
)sql",
};

bool is_postgres(const std::string& spec) {
  return spec.starts_with("postgresql://") || spec.starts_with("postgres://") ||
         spec.find("dbname=") != std::string::npos || spec.find("host=") != std::string::npos;
}

std::array<Value, 3> key_values(const PeerKey& p) {
  return {p.host, static_cast<std::int64_t>(p.port), p.protocol};
}

std::optional<Seconds> optional_int(const Value& v) {
  if (is_null(v)) return std::nullopt;
  return as_int(v);
}

Value optional_value(const std::optional<std::string>& s) {
  if (!s) return std::monostate{};
  return *s;
}

// A policy is kept as one line per string (no TLSA record or MTA-STS line holds a newline).
std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) out += (i == 0 ? "" : "\n") + lines[i];
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    const auto end = nl == std::string::npos ? text.size() : nl;
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string iso_time(Seconds t) {
  std::tm tm{};
  const std::time_t tt = t;
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Seconds now() { return static_cast<Seconds>(std::time(nullptr)); }

std::int64_t as_int(const Value& v) {
  if (const auto* n = std::get_if<std::int64_t>(&v)) return *n;
  if (const auto* s = std::get_if<std::string>(&v)) {
    char* end = nullptr;
    const long long n = std::strtoll(s->c_str(), &end, 10);
    return end != s->c_str() ? n : 0;
  }
  return 0;
}

std::string as_text(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* n = std::get_if<std::int64_t>(&v)) return std::to_string(*n);
  return {};
}

bool is_null(const Value& v) { return std::holds_alternative<std::monostate>(v); }

Store::Store(std::unique_ptr<Connection> db) : db_(std::move(db)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

std::string_view Store::engine() const { return db_->engine(); }

Result<Store> Store::open_or_default(const std::string& spec) {
  if (!spec.empty()) return open(spec);
  auto path = default_path();
  if (!path) return unexpected<Error>(path.error());
  return open(*path);
}

Result<std::string> Store::default_path() {
  std::filesystem::path dir;
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state) {
    dir = std::filesystem::path(state) / "ostls";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    dir = std::filesystem::path(home) / ".local" / "state" / "ostls";
  } else {
    return fail(Errc::Store, Fault::Config, "neither XDG_STATE_HOME nor HOME is set: give --store PATH or --no-store");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Errc::Store, Fault::Config, fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  return (dir / "ostls.db").string();
}

Result<Store> Store::open(const std::string& spec) {
  auto db = is_postgres(spec) ? open_postgres(spec) : open_sqlite(spec);
  if (!db) return unexpected<Error>(db.error());
  Store s(std::move(*db));
  if (auto m = s.migrate(); !m) return unexpected<Error>(m.error());
  return s;
}

Result<void> Store::migrate() {
  // The common case, every probe's start-up: the schema is current. One read, no write lock, so
  // concurrent ostls processes do not queue behind each other just to find that out.
  if (auto rows = db_->query("SELECT version FROM ostls_schema", {});
      rows && rows->size() == 1 && as_int(rows->front().at(0)) == static_cast<std::int64_t>(migrations.size())) {
    version_ = static_cast<int>(migrations.size());
    return {};
  }
  if (auto b = db_->begin(); !b) return b;
  auto run = [&]() -> Result<void> {
    if (auto l = db_->lock_for_migration(); !l) return l;
    if (auto t = db_->script("CREATE TABLE IF NOT EXISTS ostls_schema (version INTEGER NOT NULL)"); !t) return t;
    auto rows = db_->query("SELECT version FROM ostls_schema", {});
    if (!rows) return unexpected<Error>(rows.error());
    int version = 0;
    if (rows->empty()) {
      if (auto i = db_->script("INSERT INTO ostls_schema (version) VALUES (0)"); !i) return i;
    } else {
      version = static_cast<int>(as_int(rows->front().at(0)));
    }
    if (version > static_cast<int>(migrations.size())) {
      return fail(Errc::Store, Fault::Config,
                  fmt::format("the store's schema (version {}) is newer than this ostls understands ({})", version,
                              migrations.size()));
    }
    for (auto v = static_cast<std::size_t>(version); v < migrations.size(); ++v) {
      if (auto m = db_->script(migrations[v]); !m) return m;
      const std::array<Value, 1> next{static_cast<std::int64_t>(v + 1)};
      if (auto u = db_->query("UPDATE ostls_schema SET version = $1", next); !u) return unexpected<Error>(u.error());
    }
    version_ = static_cast<int>(migrations.size());
    return {};
  };
  if (auto r = run(); !r) {
    db_->rollback();
    return r;
  }
  return db_->commit();
}

Result<std::optional<Pin>> Store::pin(const PeerKey& peer) {
  const auto key = key_values(peer);
  auto rows = db_->query(
      "SELECT spki_sha256, first_seen, last_seen FROM pins WHERE host = $1 AND port = $2 AND protocol = $3", key);
  if (!rows) return unexpected<Error>(rows.error());
  if (rows->empty()) return std::optional<Pin>{};
  const auto& r = rows->front();
  return std::optional<Pin>{Pin{as_text(r.at(0)), as_int(r.at(1)), as_int(r.at(2))}};
}

Result<void> Store::set_pin(const PeerKey& peer, const std::string& spki, Seconds now) {
  const std::array<Value, 5> values{peer.host, static_cast<std::int64_t>(peer.port), peer.protocol, spki, now};
  auto r = db_->query(
      "INSERT INTO pins (host, port, protocol, spki_sha256, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $5) "
      "ON CONFLICT (host, port, protocol) DO UPDATE SET spki_sha256 = excluded.spki_sha256, "
      "first_seen = excluded.first_seen, last_seen = excluded.last_seen",
      values);
  if (!r) return unexpected<Error>(r.error());
  return {};
}

Result<void> Store::touch_pin(const PeerKey& peer, Seconds now) {
  const std::array<Value, 4> values{now, peer.host, static_cast<std::int64_t>(peer.port), peer.protocol};
  auto r = db_->query("UPDATE pins SET last_seen = $1 WHERE host = $2 AND port = $3 AND protocol = $4", values);
  if (!r) return unexpected<Error>(r.error());
  return {};
}

Result<bool> Store::forget_pin(const PeerKey& peer) {
  auto existing = pin(peer);
  if (!existing) return unexpected<Error>(existing.error());
  const auto key = key_values(peer);
  auto r = db_->query("DELETE FROM pins WHERE host = $1 AND port = $2 AND protocol = $3", key);
  if (!r) return unexpected<Error>(r.error());
  return existing->has_value();
}

Result<std::vector<std::pair<PeerKey, Pin>>> Store::pins() {
  auto rows = db_->query(
      "SELECT host, port, protocol, spki_sha256, first_seen, last_seen FROM pins ORDER BY host, port, protocol", {});
  if (!rows) return unexpected<Error>(rows.error());
  std::vector<std::pair<PeerKey, Pin>> out;
  for (const auto& r : *rows) {
    out.push_back({PeerKey{as_text(r.at(0)), static_cast<std::uint16_t>(as_int(r.at(1))), as_text(r.at(2))},
                   Pin{as_text(r.at(3)), as_int(r.at(4)), as_int(r.at(5))}});
  }
  return out;
}

Result<std::optional<Memory>> Store::memory(const PeerKey& peer) {
  const auto key = key_values(peer);
  auto rows = db_->query(
      "SELECT last_starttls, last_tls, last_seen FROM memory WHERE host = $1 AND port = $2 AND protocol = $3", key);
  if (!rows) return unexpected<Error>(rows.error());
  if (rows->empty()) return std::optional<Memory>{};
  const auto& r = rows->front();
  return std::optional<Memory>{Memory{optional_int(r.at(0)), optional_int(r.at(1)), as_int(r.at(2))}};
}

Result<void> Store::remember(const PeerKey& peer, const Contact& c) {
  const std::array<Value, 6> values{peer.host,
                                    static_cast<std::int64_t>(peer.port),
                                    peer.protocol,
                                    c.starttls_offered ? Value{c.at} : Value{std::monostate{}},
                                    c.tls_completed ? Value{c.at} : Value{std::monostate{}},
                                    c.at};
  // What the peer could do is kept until it does it again: a contact without STARTTLS does not
  // erase the date it last offered it (that date is the evidence of R11).
  auto r = db_->query(
      "INSERT INTO memory (host, port, protocol, last_starttls, last_tls, last_seen) VALUES ($1, $2, $3, $4, $5, $6) "
      "ON CONFLICT (host, port, protocol) DO UPDATE SET "
      "last_starttls = COALESCE(excluded.last_starttls, memory.last_starttls), "
      "last_tls = COALESCE(excluded.last_tls, memory.last_tls), last_seen = excluded.last_seen",
      values);
  if (!r) return unexpected<Error>(r.error());
  return {};
}

Result<void> Store::record(const OutcomeRecord& o) {
  const std::array<Value, 10> values{o.at,
                                     o.policy_domain,
                                     o.policy_type,
                                     o.mx_host,
                                     o.address,
                                     static_cast<std::int64_t>(o.success ? 1 : 0),
                                     optional_value(o.result_type),
                                     o.detail,
                                     o.sending_address,
                                     join_lines(o.policy_strings)};
  auto r = db_->query(
      "INSERT INTO outcomes (at, policy_domain, policy_type, mx_host, address, success, result_type, detail, "
      "sending_address, policy_string) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
      values);
  if (!r) return unexpected<Error>(r.error());
  return {};
}

Result<std::vector<OutcomeRecord>> Store::outcomes(const std::string& policy_domain, Seconds from, Seconds to) {
  const std::array<Value, 3> values{policy_domain, from, to};
  auto rows = db_->query(
      "SELECT at, policy_domain, policy_type, mx_host, address, success, result_type, detail, sending_address, "
      "policy_string FROM outcomes WHERE policy_domain = $1 AND at >= $2 AND at < $3 ORDER BY at",
      values);
  if (!rows) return unexpected<Error>(rows.error());
  std::vector<OutcomeRecord> out;
  for (const auto& r : *rows) {
    std::optional<std::string> type;
    if (!is_null(r.at(6))) type = as_text(r.at(6));
    out.push_back({as_int(r.at(0)), as_text(r.at(1)), as_text(r.at(2)), as_text(r.at(3)), as_text(r.at(4)),
                   as_int(r.at(5)) != 0, std::move(type), as_text(r.at(7)), as_text(r.at(8)),
                   split_lines(as_text(r.at(9)))});
  }
  return out;
}

Result<std::optional<StsCacheEntry>> Store::sts_policy(const std::string& policy_domain) {
  const std::array<Value, 1> key{policy_domain};
  auto rows = db_->query("SELECT policy_id, body, fetched_at, max_age FROM mta_sts WHERE policy_domain = $1", key);
  if (!rows) return unexpected<Error>(rows.error());
  if (rows->empty()) return std::optional<StsCacheEntry>{};
  const auto& r = rows->front();
  return std::optional<StsCacheEntry>{StsCacheEntry{as_text(r.at(0)), as_text(r.at(1)), as_int(r.at(2)), as_int(r.at(3))}};
}

Result<void> Store::set_sts_policy(const std::string& policy_domain, const StsCacheEntry& e) {
  const std::array<Value, 5> values{policy_domain, e.policy_id, e.body, e.fetched_at, e.max_age};
  auto r = db_->query(
      "INSERT INTO mta_sts (policy_domain, policy_id, body, fetched_at, max_age) VALUES ($1, $2, $3, $4, $5) "
      "ON CONFLICT (policy_domain) DO UPDATE SET policy_id = excluded.policy_id, body = excluded.body, "
      "fetched_at = excluded.fetched_at, max_age = excluded.max_age",
      values);
  if (!r) return unexpected<Error>(r.error());
  return {};
}

}  // namespace ostls::store
