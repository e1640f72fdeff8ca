// MTA-STS (RFC 8461), the pure part: the `_mta-sts.<domain>` TXT record (§3.1), the policy
// body served at https://mta-sts.<domain>/.well-known/mta-sts.txt (§3.2) and MX host matching
// (§4.1). Values in, values out: no DNS, no HTTPS, no clock, no cache (those are the
// resolver's, mtasts/fetch's and mtasts/cache's).
// Strictness, decided once: the grammar is the RFC's ABNF, case-sensitive where it says %s.
// The registered policy fields are read with their own grammar (a bad `mode` is an error, never
// an unknown extension); `version` must be the first policy field; a repeated `version`,
// `mode`, `max_age` or TXT `id` is an error (for the policy, RFC 8461 §3.2 says to keep the
// first: we refuse instead); no blank lines; `mx` patterns in A-label form, no trailing dot.
// Errors are Errc::Malformed (Errc::ReplyTooLong for an over-long body) with Fault::Peer, the
// policy domain having published them; details quote the input escaped and truncated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace ostls::mtasts {

namespace limits {
inline constexpr std::size_t max_policy_bytes = 64 * 1024;  // §3.3 suggests 64 KB
inline constexpr std::size_t max_txt_bytes = 65535;         // one TXT RDATA cannot be longer
inline constexpr std::uint32_t max_age = 31557600;          // §3.2: one year of seconds
}  // namespace limits

// §3.2 `mode`. What each one means for delivery is §5's business, not this file's.
enum class Mode : std::uint8_t { Enforce, Testing, None };
std::string_view name(Mode mode);
std::optional<Mode> parse_mode(std::string_view text);  // exact, case-sensitive (%s in the ABNF)

// An extension field of a TXT record or a policy: kept, in order, but not interpreted.
struct Extension {
  std::string name, value;
};

struct TxtRecord {
  std::string id;                     // 1-32 letters and digits
  std::vector<Extension> extensions;  // every field other than v and id, in record order
};

struct Policy {
  Mode mode = Mode::None;
  std::uint32_t max_age = 0;          // seconds, 0..limits::max_age
  std::vector<std::string> mx;        // patterns as written ("mx.example.com", "*.example.net")
  std::vector<Extension> extensions;  // unknown fields, ignored by policy application

  [[nodiscard]] std::string to_string() const;  // "mode=enforce max_age=604800 mx=a.example,*.b.example"
};

// One TXT record, its strings already concatenated without separators (§3.1).
[[nodiscard]] Result<TxtRecord> parse_txt(std::string_view record);

// §3.1 discovery from every TXT record at `_mta-sts.<domain>` (each one concatenated).
// Records that do not begin with "v=STSv1" *WSP ";" are discarded.
//   value, TxtRecord: exactly one STSv1 record, and it parses.
//   value, nullopt:   no STSv1 record: the domain does not announce MTA-STS.
//   error:            several STSv1 records, or the one is malformed. RFC 8461: treat the
//                     domain as having no available policy (a cached policy still applies).
[[nodiscard]] Result<std::optional<TxtRecord>> select_txt(std::span<const std::string> records);

// The policy body (§3.2): lines ending in LF or CRLF, at most limits::max_policy_bytes.
[[nodiscard]] Result<Policy> parse_policy(std::string_view body);

// §4.1: does the MX host name match one `mx` pattern? Case-insensitive; one trailing dot on
// either side is ignored; a leading "*." matches exactly one non-empty leftmost label
// ("*.example.com" matches "mx.example.com", neither "example.com" nor "a.mx.example.com").
[[nodiscard]] bool mx_matches(std::string_view pattern, std::string_view host);

// The first pattern of the policy that matches `host`, nullopt when none does. Ignores the mode:
// whether a mismatch stops delivery (enforce), is only reported (testing) or does not matter
// (none) is decided by the caller (§5).
[[nodiscard]] std::optional<std::string_view> matching_pattern(const Policy& policy, std::string_view host);
[[nodiscard]] inline bool permits(const Policy& policy, std::string_view host) {
  return matching_pattern(policy, host).has_value();
}

}  // namespace ostls::mtasts
