// The decision tables of SPEC §3 (R2–R7) as pure functions: from what one attempt saw and what
// the level demands, to verdict, protection, auth method, trust and the reason for a failure.
// The probe, the scanner and the proxy all decide through here; docs/design.md has the tables.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "core/error.hpp"
#include "core/level.hpp"
#include "core/outcome.hpp"

namespace ostls::policy {

struct AuthCheck;
AuthCheck authenticate(Level level, const TlsFacts& tls, std::span<const std::string> fingerprints,
                       const std::optional<std::string>& pinned_spki, bool mta_sts);

// Proof that the peer was authenticated by the policy in force (STYLE habit 8). Only
// authenticate() can make one, so Protection::Authenticated cannot be set without it (R7).
class Authentication {
public:
  [[nodiscard]] AuthMethod method() const { return method_; }

private:
  explicit Authentication(AuthMethod m) : method_(m) {}
  AuthMethod method_;
  friend AuthCheck authenticate(Level, const TlsFacts&, std::span<const std::string>,
                                const std::optional<std::string>&, bool);
};

struct AuthCheck {
  std::optional<Authentication> proof;  // set iff the level's check passed
  std::optional<Failure> failure;       // why it did not (recorded even when not enforced)
  bool first_use = false;               // Level::Tofu with nothing pinned yet: the key is to be pinned
};

// What `level` demands of a completed handshake. `fingerprints` are configured SHA-256 digests
// (certificate or SPKI, any case, colons allowed) for Level::Fingerprint; `pinned_spki` is the
// TOFU pin of the peer for Level::Tofu (nullopt: first contact). `mta_sts`: Level::Verify is in
// force because an MTA-STS policy in mode enforce lists the MX host (RFC 8461 §4), so a passing
// PKIX check is AuthMethod::MtaSts.
[[nodiscard]] AuthCheck authenticate(Level level, const TlsFacts& tls, std::span<const std::string> fingerprints,
                                     const std::optional<std::string>& pinned_spki = std::nullopt,
                                     bool mta_sts = false);

// RFC 8461 §4 for one MX host: listed in the policy (`mx_listed`), TLS done (`tls` non-null) and
// a certificate that verifies (PKIX, the MX host name as reference identifier). nullopt: all
// met; else the first unmet demand with its RFC 8460 result type. Used where the policy is only
// reported (mode testing) and not enforced.
[[nodiscard]] std::optional<Failure> sts_check(bool mx_listed, const TlsFacts* tls);

// Postfix's trust word for a TLS session.
[[nodiscard]] Trust trust_of(const TlsFacts& tls, const std::optional<Authentication>& proof);

// What one attempt (one connection, after any R2 cleartext retry) saw.
struct AttemptSummary {
  std::optional<Error> error;           // the dialogue ended early (refused, timeout, bad reply…)
  bool starttls_offered = false;
  std::optional<std::string> refusal;   // the peer's answer when it refused the upgrade
  std::optional<Error> handshake_error;  // the handshake failed and no cleartext retry replaced it
  bool tls = false;                      // a TLS session was established
  bool implicit_tls = false;
};

struct Decision {
  Verdict verdict = Verdict::Fail;
  Protection protection = Protection::Cleartext;
  AuthMethod auth_method = AuthMethod::None;
  std::optional<Failure> failure;
  bool soft_fail = false;  // R3: authentication failed where it was not enforced
};

[[nodiscard]] Decision decide(Level level, const AttemptSummary& attempt, const std::optional<AuthCheck>& auth);

// Whether an error ends in `defer` (temporary, not the peer's TLS capability) or `fail`.
[[nodiscard]] Verdict verdict_for(const Error& e);

// Normalises a configured digest: lowercase hex, colons removed.
[[nodiscard]] std::string normalize_digest(std::string_view digest);

}  // namespace ostls::policy
