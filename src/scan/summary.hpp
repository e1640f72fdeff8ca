// The numbers of a scan (`ostls scan` at its end, `ostls scan --summarize FILE.jsonl` for an old
// run): counts by verdict, protection, auth_method, trust and policy; STARTTLS offered but not
// used; TLS versions and forward secrecy; certificate problems (the chain error and name checks
// of tls.verify, recorded even where not enforced — R3); DANE (signals.tlsa) and MTA-STS
// (signals.mta_sts) adoption and failures; REQUIRETLS; every event type (downgrade indicators
// included); failures by RFC 8460 result type and by fault.
// Pure: it reads outcomes in the JSON schema of `ostls probe --json` (report::to_json) and never
// throws on them — lines from older or newer builds (a missing signals.mta_sts, an unknown event
// type, a field of another type) are counted as far as they go. No I/O here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ostls::scan {

namespace limits {
// Distinct names one Tally keeps; further new names are counted under "other" (a file given to
// --summarize may hold anything: counts stay bounded, and linear lookups cheap).
inline constexpr std::size_t max_tally_names = 64;
}  // namespace limits

// Counts per name, in the order the names were first seeded or seen (vocabulary order for the
// closed vocabularies, which are seeded with every name so that zeros show).
class Tally {
public:
  void seed(std::string_view name);
  void add(std::string_view name, std::uint64_t n = 1);
  [[nodiscard]] std::uint64_t operator[](std::string_view name) const;
  [[nodiscard]] const std::vector<std::pair<std::string, std::uint64_t>>& rows() const { return rows_; }

private:
  std::vector<std::pair<std::string, std::uint64_t>> rows_;
};

struct Summary {
  Summary();  // seeds the closed vocabularies from core/outcome and core/level

  // One outcome object (a JSON line of `ostls probe --json` / `ostls scan`).
  void add(const nlohmann::json& outcome);
  // A line that is not a JSON object (corrupt, or not ours): counted, never guessed at.
  void add_unreadable() { ++unreadable; }

  std::uint64_t targets = 0, unreadable = 0;
  Tally verdict, protection, auth_method, trust, effective, source;
  struct {
    std::uint64_t offered = 0, not_offered = 0, not_advertised = 0;  // not_advertised: null (LDAP, PostgreSQL…)
    std::uint64_t offered_but_cleartext = 0;  // offered, and the session stayed cleartext
  } starttls;
  struct {
    std::uint64_t sessions = 0, pfs = 0;
    Tally versions;
  } tls;
  struct {
    std::uint64_t verified = 0;      // chain and name checks passed (tls.verify.ok)
    std::uint64_t chain_failed = 0, name_failed = 0, no_certificate = 0;
    Tally chain_errors;              // OpenSSL's words for the chain error
  } certificates;
  struct {
    Tally tlsa;                      // signals.tlsa.state; "no-dns" for null (IP literals)
    std::uint64_t usable = 0;        // a usable TLSA RRset for the peer
    std::uint64_t authenticated = 0; // auth_method dane-ee or dane-ta
    std::uint64_t failed = 0;        // usable TLSA, verdict not ok
  } dane;
  struct {
    std::uint64_t looked_up = 0;     // signals.mta_sts present and not null
    std::uint64_t absent = 0;        // missing (older builds) or null (not looked up)
    Tally mode;                      // enforce | testing | none | "no-policy" (mode null)
    Tally error_type;                // RFC 8460 sts-* result type of a TXT or fetch problem
    std::uint64_t authenticated = 0; // auth_method mta-sts
  } mta_sts;
  Tally tlsrpt;                      // signals.tlsrpt.state (present | none | invalid | bogus |
                                     // servfail); "not-reported" when missing or null
  std::uint64_t requiretls = 0;
  Tally events;                      // targets with at least one event of the type
  Tally result_type, fault;          // of failures (verdict fail or defer); "no-result-type" when null
};

[[nodiscard]] nlohmann::ordered_json to_json(const Summary& s);
// Several lines of text for a terminal, one topic per line, with percentages.
[[nodiscard]] std::string to_text(const Summary& s);

}  // namespace ostls::scan
