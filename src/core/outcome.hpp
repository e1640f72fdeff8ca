// The facts of one attempt to talk to one peer (SPEC §1 "Outcome"): what protection was
// achieved, how the peer was authenticated, what TLS negotiated, what discovery saw, which
// policy applied and whether it was met, and what happened on the way (events).
// Every renderer (human line, JSON, later TLS-RPT) reads an Outcome; none recomputes it.
// An Outcome is not an error: cleartext at `may` is a complete, successful outcome.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/level.hpp"

namespace ostls {

enum class Protection : std::uint8_t { Cleartext, Encrypted, Authenticated };
enum class AuthMethod : std::uint8_t { None, DaneEe, DaneTa, MtaSts, Pkix, Fingerprint, Tofu };
// Postfix's words for the human line: no certificate / chain not verified /
// chain verified but name not checked / authenticated by the policy in force.
enum class Trust : std::uint8_t { Anonymous, Untrusted, Trusted, Verified };
enum class Verdict : std::uint8_t { Ok, Fail, Defer };
// Where the effective level came from: the default, --policy, a policy-map entry, or a
// downgrade-resistant signal (a DNSSEC-validated TLSA RRset, a TOFU pin, an MTA-STS policy in
// mode enforce).
enum class PolicySource : std::uint8_t { Default, CommandLine, PolicyMap, Dane, Tofu, MtaSts };

enum class EventType : std::uint8_t {
  FallbackToCleartext,           // R2: handshake failed under `may`, reconnected in cleartext
  ResponseInjection,             // R10: plaintext pipelined behind the upgrade reply, discarded
  CommandInjection,              // R10 server role: plaintext pipelined behind the upgrade command
  StarttlsMasked,                // a same-length keyword where STARTTLS would be (middlebox)
  StarttlsRefused,               // STARTTLS advertised, then refused
  StarttlsAfterTls,              // STARTTLS still advertised after TLS
  ResetAfterStarttls,            // connection closed between the upgrade reply and the handshake
  StarttlsAcceptedUnadvertised,  // --try-starttls: the peer accepted a STARTTLS it did not offer
  AuthSoftFail,                  // R3: verification failed where it was not enforced
  HeloFallback,                  // EHLO rejected, HELO used (no extensions, so no STARTTLS)
  DowngradeSuspected,            // R11 (capability memory, later issue)
  PreauthSkipsStarttls,          // IMAP PREAUTH greeting: authenticated before any STARTTLS
  StarttlsStripped,              // XMPP: <required/> left behind by a removed <starttls/>
  TofuKeyChanged,                // the peer's key differs from its TOFU pin (both named)
  MtaStsTestingFailure,          // an MTA-STS policy in mode testing would have failed this session
};

// RFC 8460 §4.3 result types, carried by every `fail` where one applies.
enum class ResultType : std::uint8_t {
  StarttlsNotSupported,
  CertificateHostMismatch,
  CertificateExpired,
  CertificateNotTrusted,
  ValidationFailure,
  TlsaInvalid,
  DnssecInvalid,
  DaneRequired,
  StsPolicyFetchError,
  StsPolicyInvalid,
  StsWebpkiInvalid,
};

std::string_view name(Protection v);
std::string_view name(AuthMethod v);
std::string_view name(Trust v);
std::string_view name(Verdict v);
std::string_view name(PolicySource v);
std::string_view name(EventType v);
std::string_view name(ResultType v);
std::optional<EventType> parse_event_type(std::string_view n);

struct CertFacts {
  std::string subject, issuer;
  std::string not_before, not_after;  // ISO 8601, UTC
  std::string spki_sha256, cert_sha256;  // lowercase hex, no colons
  std::string key;                       // e.g. "ECDSA (P-256)", "RSA (2048 bits)"
};

// The chain and name checks are always performed and recorded, enforced or not (R3).
struct VerifyFacts {
  bool chain_ok = false;
  bool name_ok = false;
  std::string error;  // empty when both checks passed
  [[nodiscard]] bool ok() const { return chain_ok && name_ok; }
};

// Set when DANE verification was enabled on the connection.
struct DaneFacts {
  bool matched = false;
  std::optional<std::uint8_t> usage;  // of the matching record: 2 DANE-TA, 3 DANE-EE
  int depth = -1;                     // chain depth of the match (0 = the leaf)
  std::string record;                 // the matching record, "3 1 1 ab…"
};

struct TlsFacts {
  std::string version, cipher;                // OpenSSL names: TLSv1.3, TLS_AES_256_GCM_SHA384
  int bits = 0, alg_bits = 0;
  std::optional<std::string> group;           // key-exchange group; nullopt when none (RSA kx)
  bool pfs = false;
  std::optional<std::string> server_signature, server_digest;
  std::optional<CertFacts> peer;              // nullopt for anonymous ciphers
  VerifyFacts verify;                         // with DANE enabled: the DANE verification
  std::optional<DaneFacts> dane;
  bool resumed = false;                       // an earlier session resumed (tls/resume.hpp)
};

struct Event {
  EventType type;
  std::string detail;
};

struct TlsaRecordFacts {
  std::uint8_t usage = 0, selector = 0, mtype = 0;
  std::string data;  // lowercase hex
};

// What the TLSA lookup of the peer said (RFC 6698/7672), also when it was not acted on.
struct TlsaSignal {
  std::string state;  // secure | insecure | none | unusable | bogus | servfail | not-looked-up
  std::string owner;  // _port._tcp.host that was asked
  std::vector<TlsaRecordFacts> records;
  bool usable = false;  // at least one record usable for this protocol
};

// Capability memory (R11): when the peer last offered STARTTLS and last completed TLS, as
// ISO 8601 UTC times; nullopt: never (as far as the store knows).
struct MemorySignal {
  std::optional<std::string> last_starttls, last_tls;
};

// What MTA-STS discovery (RFC 8461) said about the destination's policy domain, also when it
// was not acted on. The policy fields describe the policy applied (fetched now or cached);
// `error` says why no (new) policy could be had — a cached one may still apply.
struct MtaStsSignal {
  std::optional<std::string> txt_id;     // the id of the one valid `_mta-sts` TXT record now
  std::optional<std::string> policy_id;  // the TXT id the applied policy was fetched under
  std::optional<std::string> mode;       // enforce | testing | none
  std::vector<std::string> mx;           // the policy's mx patterns
  std::optional<std::uint32_t> max_age;
  std::optional<std::string> source;     // fetched | cache
  std::optional<std::string> error;      // TXT or fetch problem, in words
  std::optional<ResultType> error_type;  // its RFC 8460 result type (sts-policy-*)
  std::optional<std::string> mx_match;   // the pattern this MX host matched; nullopt: none or not checked
};

// Whether the mail domain publishes where TLS-RPT reports go (RFC 8460 §3): `_smtp._tls` TXT.
struct TlsrptSignal {
  std::string state;              // present | none | invalid | bogus | servfail
  std::vector<std::string> rua;   // state present: the report URIs
  std::optional<std::string> error;
};

struct Signals {
  std::optional<bool> starttls_offered;  // nullopt: the protocol advertises nothing, or not asked
  std::optional<bool> starttls_required; // XMPP <required/>; nullopt elsewhere
  bool requiretls = false;               // RFC 8689 REQUIRETLS advertised after TLS
  std::optional<std::string> mx;         // DNSSEC state of the MX RRset (domain targets)
  std::optional<std::string> srv;        // DNSSEC state of the SRV RRset (--srv service domains)
  std::optional<std::string> address;    // DNSSEC state of the host's address records
  std::optional<TlsaSignal> tlsa;        // nullopt: no DNS was involved (IP literal)
  std::optional<std::string> tofu;       // new | match | mismatch; nullopt: TOFU not consulted
  std::optional<MemorySignal> memory;    // what the store remembered before this contact
  std::optional<MtaStsSignal> mta_sts;   // smtp:// mail domains under `opportunistic`; nullopt: not looked up
  std::optional<TlsrptSignal> tlsrpt;    // smtp:// mail domains; nullopt: not looked up
};

// One MX host tried for a mail-domain target, in order (RFC 5321 §5).
struct MxAttempt {
  std::string host;
  std::uint16_t preference = 0;
  std::string address;
  Verdict verdict = Verdict::Fail;
  Protection protection = Protection::Cleartext;
  std::string detail;  // the failure detail, or the human line
};

// One SRV target tried for a service domain (--srv), in RFC 2782 order. priority and weight
// are nullopt for the fallback to the service domain itself when it has no SRV records.
struct SrvAttempt {
  std::string target;
  std::uint16_t port = 0;
  std::optional<std::uint16_t> priority, weight;
  std::string address;
  Verdict verdict = Verdict::Fail;
  Protection protection = Protection::Cleartext;
  std::string detail;  // the failure detail, or the human line
};

struct Capabilities {
  std::vector<std::string> plaintext, tls;
};

struct Timing {
  std::optional<double> connect, greeting, starttls, handshake;
  double total = 0;
};

struct Failure {
  std::optional<ResultType> result_type;
  Fault fault = Fault::None;
  std::string detail;
};

struct PolicyApplied {
  Level level = Level::Opportunistic;      // what was asked for
  Level effective = Level::May;            // what was applied to this peer
  PolicySource source = PolicySource::Default;
};

struct Outcome {
  std::string target, protocol, host, address;
  std::uint16_t port = 0;
  std::string servername;
  PolicyApplied policy;
  Verdict verdict = Verdict::Fail;
  Protection protection = Protection::Cleartext;
  AuthMethod auth_method = AuthMethod::None;
  std::optional<Trust> trust;   // nullopt for cleartext
  std::optional<TlsFacts> tls;  // nullopt = no TLS session
  Signals signals;
  Capabilities capabilities;
  std::vector<Event> events;
  Timing timing;
  std::optional<Failure> failure;  // set iff verdict != ok
  std::optional<std::vector<MxAttempt>> mx;  // domain targets: every MX host tried, in order
  std::optional<std::vector<SrvAttempt>> srv;  // --srv: every SRV target tried, in order

  void add(EventType type, std::string detail) { events.push_back({type, std::move(detail)}); }
  [[nodiscard]] bool has(EventType type) const;
};

}  // namespace ostls
