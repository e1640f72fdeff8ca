// Policy levels: what is demanded of a peer (SPEC §1), named after Postfix's
// smtp_tls_security_level so that operators can reuse their knowledge and policy files.
// The properties of each level are columns of one table (Postfix tls_level_table, TLS_MUST_MATCH):
// callers ask requires_tls(level), never compare levels numerically.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ostls {

enum class Level : std::uint8_t {
  None,           // cleartext only, never STARTTLS
  May,            // encrypt if offered, authentication soft-fails
  Encrypt,        // encryption mandatory, no authentication
  Fingerprint,    // encryption + configured certificate/SPKI SHA-256 digests
  Tofu,           // encryption + trust on first use pin
  Dane,           // opportunistic DANE (RFC 7672)
  DaneOnly,       // DANE mandatory
  Verify,         // PKIX chain + name
  Secure,         // PKIX chain + names from secure sources only
  Opportunistic,  // the default: strongest downgrade-resistant signal wins, peer by peer
};

struct LevelInfo {
  Level value;
  std::string_view name;
  bool requires_tls;       // STARTTLS missing or failing is a policy failure
  bool authenticates;      // the peer's identity must be proven (R4, R6 crypto floor)
  bool needs_pkix;         // a WebPKI chain to a trust anchor is part of the proof
  bool is_opportunistic;   // may fall back to cleartext (R2)
  bool implemented;        // false: accepted by the grammar but not available in this build
};

std::optional<Level> parse_level(std::string_view name);
std::string_view name(Level level);
const LevelInfo& info(Level level);

inline bool requires_tls(Level l) { return info(l).requires_tls; }
inline bool authenticates(Level l) { return info(l).authenticates; }
inline bool needs_pkix(Level l) { return info(l).needs_pkix; }
inline bool is_opportunistic(Level l) { return info(l).is_opportunistic; }
inline bool is_implemented(Level l) { return info(l).implemented; }

}  // namespace ostls
