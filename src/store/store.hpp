// ostls's memory (SPEC §4 "TOFU and capability memory"): trust-on-first-use pins, what each peer
// could do the last time (STARTTLS offered, TLS completed — for R11 downgrade detection), the
// outcomes TLS-RPT reports are made from, and the MTA-STS policy cache. One class over two real
// engines: SQLite (one file, the default, safe for several processes on one host) and
// PostgreSQL (shared by several hosts), with the same versioned schema, migrated on open. `:memory:` keeps everything for one run.
// Calls are synchronous: each is one short statement (SQLite: microseconds; PostgreSQL: a
// round trip), made a few times per probe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace ostls::store {

class Connection;

// A peer as memory knows it: the host name as connected to (lower case), port, protocol.
struct PeerKey {
  std::string host;
  std::uint16_t port = 0;
  std::string protocol;  // canonical scheme name: smtp, imap, …

  friend bool operator==(const PeerKey&, const PeerKey&) = default;
};

using Seconds = std::int64_t;  // Unix time

// "2026-11-23T10:00:00Z"
[[nodiscard]] std::string iso_time(Seconds t);
// The current time.
[[nodiscard]] Seconds now();

struct Pin {
  std::string spki_sha256;  // lowercase hex
  Seconds first_seen = 0;   // when this key was pinned
  Seconds last_seen = 0;    // last contact that presented it
};

// What the peer did, as far as memory goes.
struct Memory {
  std::optional<Seconds> last_starttls;  // last time STARTTLS was offered (or TLS was implicit)
  std::optional<Seconds> last_tls;       // last time a TLS handshake completed
  Seconds last_seen = 0;
};

// One contact, to be remembered.
struct Contact {
  bool starttls_offered = false;
  bool tls_completed = false;
  Seconds at = 0;
};

// One outcome for TLS-RPT (RFC 8460 §4): per policy domain and day.
struct OutcomeRecord {
  Seconds at = 0;
  std::string policy_domain;            // the recipient domain (or the host for non-mail)
  std::string policy_type;              // tlsa | sts | no-policy-found
  std::string mx_host;                  // the receiving host ("" when no host was chosen)
  std::string address;                  // its IP address ("" when none was reached)
  bool success = false;
  std::optional<std::string> result_type;  // RFC 8460 result type of a failure
  std::string detail;                   // failure-reason-code / additional information
  std::string sending_address;          // our source address toward `address` ("" when unknown)
  std::vector<std::string> policy_strings;  // the applied policy: TLSA records, MTA-STS lines
};

// A cached MTA-STS policy (RFC 8461 §5.1): valid while now < fetched_at + max_age.
struct StsCacheEntry {
  std::string policy_id;  // the `_mta-sts` TXT id the policy was fetched under
  std::string body;       // the policy as served (parsed again when read)
  Seconds fetched_at = 0;
  Seconds max_age = 0;

  [[nodiscard]] bool valid_at(Seconds t) const { return t < fetched_at + max_age; }
};

class Store {
public:
  // `spec`: a file path (SQLite), ":memory:" (SQLite, this process only), or a
  // postgresql://… / postgres://… URI or "host=… dbname=…" conninfo (PostgreSQL).
  [[nodiscard]] static Result<Store> open(const std::string& spec);
  // $XDG_STATE_HOME/ostls/ostls.db, else ~/.local/state/ostls/ostls.db (directories created).
  [[nodiscard]] static Result<std::string> default_path();
  // open(spec), or open(default_path()) when `spec` is empty.
  [[nodiscard]] static Result<Store> open_or_default(const std::string& spec);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  [[nodiscard]] Result<std::optional<Pin>> pin(const PeerKey& peer);
  // Pins `spki` (replacing any other key) and records the contact time.
  [[nodiscard]] Result<void> set_pin(const PeerKey& peer, const std::string& spki, Seconds now);
  // Records that the pinned key was seen again.
  [[nodiscard]] Result<void> touch_pin(const PeerKey& peer, Seconds now);
  // false when there was no pin.
  [[nodiscard]] Result<bool> forget_pin(const PeerKey& peer);
  [[nodiscard]] Result<std::vector<std::pair<PeerKey, Pin>>> pins();

  [[nodiscard]] Result<std::optional<Memory>> memory(const PeerKey& peer);
  [[nodiscard]] Result<void> remember(const PeerKey& peer, const Contact& contact);

  [[nodiscard]] Result<void> record(const OutcomeRecord& outcome);
  // Outcomes of one policy domain with from <= at < to.
  [[nodiscard]] Result<std::vector<OutcomeRecord>> outcomes(const std::string& policy_domain, Seconds from, Seconds to);

  // The cached MTA-STS policy of a policy domain (expired or not: the caller decides).
  [[nodiscard]] Result<std::optional<StsCacheEntry>> sts_policy(const std::string& policy_domain);
  [[nodiscard]] Result<void> set_sts_policy(const std::string& policy_domain, const StsCacheEntry& entry);

  [[nodiscard]] int schema_version() const { return version_; }
  [[nodiscard]] std::string_view engine() const;

private:
  explicit Store(std::unique_ptr<Connection> db);
  Result<void> migrate();

  std::unique_ptr<Connection> db_;
  int version_ = 0;
};

}  // namespace ostls::store
