// RFC 6698 / 7671 / 7672 policy, pure: which TLSA records are usable for a protocol, and what a
// TLSA lookup means for the level in force (R8, R9). The matching itself is OpenSSL's
// (tls/dane.cpp: SSL_dane_enable, SSL_dane_tlsa_add); nothing here compares digests.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/level.hpp"
#include "core/outcome.hpp"
#include "dns/answer.hpp"
#include "dns/records.hpp"

namespace ostls::dane {

enum class Usage : std::uint8_t { PkixTa = 0, PkixEe = 1, DaneTa = 2, DaneEe = 3 };

// RFC 7672 §3.1.3: SMTP uses only DANE-TA(2) and DANE-EE(3); PKIX-TA/EE are unusable there
// (RFC 7671 §5 keeps them for other protocols). Selectors 0/1, matching types 0/1/2 with the
// right digest length (RFC 6698 §2.1). Unknown values are unusable, not errors (R8).
[[nodiscard]] bool usable(const dns::Tlsa& record, bool smtp);

// What the TLSA RRset of one host means.
enum class TlsaState : std::uint8_t {
  NotLookedUp,  // no DANE possible: the host's address records were insecure, or an IP literal
  Insecure,     // the TLSA answer was not signed
  NoRecords,    // authenticated denial: securely no TLSA
  Unusable,     // secure, but no usable record → TLS mandatory, unauthenticated (R8)
  Usable,       // secure with at least one usable record → DANE authentication enforced (R4)
  Bogus,        // validation failed → defer (R9)
  Failed,       // SERVFAIL, timeout → defer (R9)
};
std::string_view name(TlsaState s);

struct TlsaSet {
  TlsaState state = TlsaState::NotLookedUp;
  std::string owner;                 // the name looked up, e.g. _25._tcp.mx.example.org
  std::vector<dns::Tlsa> records;    // every record of the RRset, usable or not
  std::vector<dns::Tlsa> usable;     // the usable subset, in RRset order
  std::string detail;                // why bogus / failed
};

// Classifies a TLSA answer. `host_secure` is false when the address lookup was insecure, in
// which case the TLSA lookup is skipped (RFC 7672 §2.2.2) and the state is NotLookedUp.
[[nodiscard]] TlsaSet classify(const dns::Answer& answer, bool smtp);

// The effect of the TLSA set on the level asked for (SPEC §1: dane, dane-only, opportunistic).
struct Effect {
  Level effective;                   // the level applied to this peer
  PolicySource source;               // PolicySource::Dane when the TLSA RRset decided
  std::optional<Verdict> stop;       // fail/defer before connecting (dane-required, DNS failure)
  std::optional<Failure> failure;    // the reason for `stop`
};
[[nodiscard]] Effect apply(Level asked, PolicySource asked_source, const TlsaSet& tlsa);

}  // namespace ostls::dane
