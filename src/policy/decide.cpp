#include "policy/decide.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace ostls::policy {
namespace {

Failure failure(std::optional<ResultType> type, Fault fault, std::string detail) {
  return Failure{.result_type = type, .fault = fault, .detail = std::move(detail)};
}

// RFC 8460 §4.3.2 result type for a failed PKIX check.
Failure pkix_failure(const VerifyFacts& v) {
  if (!v.chain_ok) {
    const bool expired = v.error.find("expired") != std::string::npos;
    return failure(expired ? ResultType::CertificateExpired : ResultType::CertificateNotTrusted, Fault::Peer,
                   fmt::format("certificate chain not verified: {}", v.error));
  }
  return failure(ResultType::CertificateHostMismatch, Fault::Peer,
                 fmt::format("certificate does not match the reference identifiers: {}", v.error));
}

}  // namespace

std::string normalize_digest(std::string_view digest) {
  std::string out;
  for (char c : digest) {
    if (c == ':') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

AuthCheck authenticate(Level level, const TlsFacts& tls, std::span<const std::string> fingerprints,
                       const std::optional<std::string>& pinned_spki, bool mta_sts) {
  AuthCheck check;
  switch (level) {
    case Level::Fingerprint: {
      // Postfix fingerprint level: the leaf certificate or its public key must match one of the
      // configured digests; chain, names and expiry are not consulted.
      const bool matched =
          tls.peer && std::any_of(fingerprints.begin(), fingerprints.end(), [&](const std::string& fp) {
            const auto d = normalize_digest(fp);
            return d == tls.peer->cert_sha256 || d == tls.peer->spki_sha256;
          });
      if (matched) {
        check.proof = Authentication(AuthMethod::Fingerprint);
      } else {
        check.failure = failure(ResultType::ValidationFailure, Fault::Peer,
                                tls.peer ? fmt::format("no configured fingerprint matches certificate {} or key {}",
                                                       tls.peer->cert_sha256, tls.peer->spki_sha256)
                                         : std::string("peer sent no certificate"));
      }
      return check;
    }
    case Level::Verify:
    case Level::Secure:
      if (tls.peer && tls.verify.ok()) {
        check.proof = Authentication(mta_sts && level == Level::Verify ? AuthMethod::MtaSts : AuthMethod::Pkix);
      } else {
        check.failure = tls.peer ? pkix_failure(tls.verify)
                                 : failure(ResultType::CertificateNotTrusted, Fault::Peer, "peer sent no certificate");
      }
      return check;
    case Level::None:
    case Level::May:
    case Level::Encrypt:
    case Level::Opportunistic:
      // Nothing is demanded; the PKIX facts are still recorded as a soft failure (R3).
      if (!tls.peer) {
        check.failure = failure(std::nullopt, Fault::Peer, "anonymous cipher: no certificate");
      } else if (!tls.verify.ok()) {
        check.failure = pkix_failure(tls.verify);
      }
      return check;
    case Level::Dane:
    case Level::DaneOnly:
      // OpenSSL's DANE verification (tls/dane.cpp) decided; we read which record matched.
      if (tls.dane && tls.dane->matched && tls.dane->usage) {
        check.proof = Authentication(*tls.dane->usage == 3 ? AuthMethod::DaneEe : AuthMethod::DaneTa);
      } else {
        check.failure = failure(ResultType::ValidationFailure, Fault::Peer,
                                tls.dane ? fmt::format("no TLSA record matched the peer's certificate chain: {}",
                                                       tls.verify.error.empty() ? "no match" : tls.verify.error)
                                         : std::string("DANE was not enabled on the connection"));
      }
      return check;
    case Level::Tofu:
      // RFC 7435 §1.3 "TOFU identity information": the key pinned at first contact must be
      // presented again. First contact: nothing to check, the caller pins this key.
      if (!tls.peer) {
        check.failure = failure(ResultType::ValidationFailure, Fault::Peer, "peer sent no certificate: no key to pin");
      } else if (!pinned_spki) {
        check.first_use = true;
      } else if (*pinned_spki == tls.peer->spki_sha256) {
        check.proof = Authentication(AuthMethod::Tofu);
      } else {
        check.failure = failure(ResultType::ValidationFailure, Fault::Peer,
                                fmt::format("the peer's key {} differs from the pinned key {}", tls.peer->spki_sha256,
                                            *pinned_spki));
      }
      return check;
  }
  check.failure = failure(ResultType::ValidationFailure, Fault::Config,
                          fmt::format("level {} is not available in this build", name(level)));
  return check;
}

std::optional<Failure> sts_check(bool mx_listed, const TlsFacts* tls) {
  if (!mx_listed) return failure(ResultType::ValidationFailure, Fault::Peer, "the MX host matches no mx pattern");
  if (tls == nullptr) return failure(ResultType::StarttlsNotSupported, Fault::Peer, "no TLS session");
  if (!tls->peer) return failure(ResultType::CertificateNotTrusted, Fault::Peer, "peer sent no certificate");
  if (!tls->verify.ok()) return pkix_failure(tls->verify);
  return std::nullopt;
}

Trust trust_of(const TlsFacts& tls, const std::optional<Authentication>& proof) {
  if (proof) return Trust::Verified;
  if (!tls.peer) return Trust::Anonymous;
  return tls.verify.chain_ok ? Trust::Trusted : Trust::Untrusted;
}

Verdict verdict_for(const Error& e) {
  switch (e.code) {
    case Errc::Resolve:
    case Errc::Connect:
    case Errc::Timeout:
    case Errc::Closed:
    case Errc::Io:
    case Errc::TempRejected:
    case Errc::Store:  // the memory could not be read: never guess that nothing was pinned
      return Verdict::Defer;
    case Errc::Usage:
    case Errc::LineTooLong:
    case Errc::ReplyTooLong:
    case Errc::Malformed:
    case Errc::Rejected:
    case Errc::Handshake:
    case Errc::Tls:
      return Verdict::Fail;
  }
  return Verdict::Fail;
}

Decision decide(Level level, const AttemptSummary& a, const std::optional<AuthCheck>& auth) {
  Decision d;
  d.protection = a.tls ? Protection::Encrypted : Protection::Cleartext;
  if (a.tls && auth && auth->proof && authenticates(level)) {
    d.protection = Protection::Authenticated;
    d.auth_method = auth->proof->method();
  }
  if (a.error) {
    d.verdict = verdict_for(*a.error);
    d.failure = failure(std::nullopt, a.error->fault, a.error->detail);
    return d;
  }
  if (a.handshake_error) {
    // R2 retries in cleartext only at opportunistic levels; reaching here means none happened.
    d.verdict = Verdict::Fail;
    d.failure = failure(ResultType::ValidationFailure, a.handshake_error->fault,
                        fmt::format("TLS handshake failed: {}", a.handshake_error->detail));
    return d;
  }
  if (!a.tls) {
    if (a.implicit_tls) {
      d.failure = failure(std::nullopt, Fault::Policy, "level none forbids TLS, but the port is implicit TLS");
      return d;
    }
    if (!requires_tls(level)) {
      d.verdict = Verdict::Ok;
      return d;
    }
    const auto why = a.refusal ? fmt::format("STARTTLS refused: {}", *a.refusal)
                               : std::string(a.starttls_offered ? "STARTTLS not attempted" : "STARTTLS not offered");
    d.failure = failure(ResultType::StarttlsNotSupported, Fault::Peer,
                        fmt::format("{}, but level {} requires TLS", why, name(level)));
    return d;
  }
  if (authenticates(level)) {
    if (auth && (auth->proof || auth->first_use)) {
      d.verdict = Verdict::Ok;  // first use of a TOFU level: encrypted, and the key is pinned
    } else {
      d.failure = auth && auth->failure ? auth->failure
                                        : failure(ResultType::ValidationFailure, Fault::Peer, "not authenticated");
    }
    return d;
  }
  d.verdict = Verdict::Ok;
  d.soft_fail = auth && auth->failure.has_value();
  return d;
}

}  // namespace ostls::policy
