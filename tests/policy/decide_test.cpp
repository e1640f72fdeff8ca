// SPEC §3 R2–R7 decision tables (docs/design.md "Decision tables"): what each level makes of
// what one attempt saw. Positive and negative rows for every level.
#include <gtest/gtest.h>

#include <array>

#include "policy/decide.hpp"

namespace ostls::policy {
namespace {

const std::string fp_cert = "aa11";
const std::string fp_spki = "bb22";

TlsFacts tls(bool chain_ok, bool name_ok, std::string error = "") {
  TlsFacts t;
  t.version = "TLSv1.3";
  t.cipher = "TLS_AES_256_GCM_SHA384";
  t.pfs = true;
  t.peer = CertFacts{.subject = "CN=x", .spki_sha256 = fp_spki, .cert_sha256 = fp_cert};
  t.verify = {.chain_ok = chain_ok, .name_ok = name_ok, .error = std::move(error)};
  return t;
}

enum class Seen { NoStarttls, Refused, HandshakeFailed, Tls, Timeout, Rejected5xx };

struct Row {
  const char* label;
  Level level;
  Seen seen;
  TlsFacts facts;
  std::vector<std::string> fingerprints;
  Verdict verdict;
  Protection protection;
  std::optional<ResultType> result;
  bool soft_fail = false;
};

AttemptSummary summary(Seen s) {
  AttemptSummary a;
  switch (s) {
    case Seen::NoStarttls: break;
    case Seen::Refused: a.starttls_offered = true; a.refusal = "454 4.7.0 no"; break;
    case Seen::HandshakeFailed: a.starttls_offered = true; a.handshake_error = Error{Errc::Handshake, Fault::Peer, "alert"}; break;
    case Seen::Tls: a.starttls_offered = true; a.tls = true; break;
    case Seen::Timeout: a.error = Error{Errc::Timeout, Fault::Network, "deadline"}; break;
    case Seen::Rejected5xx: a.error = Error{Errc::Rejected, Fault::Peer, "554"}; break;
  }
  return a;
}

TEST(Decide, Table) {
  const Row rows[] = {
      // R2: prioritize communication under `may`/`opportunistic`.
      {"may, no STARTTLS", Level::May, Seen::NoStarttls, {}, {}, Verdict::Ok, Protection::Cleartext, {}},
      {"may, refused", Level::May, Seen::Refused, {}, {}, Verdict::Ok, Protection::Cleartext, {}},
      {"opportunistic, no STARTTLS", Level::Opportunistic, Seen::NoStarttls, {}, {}, Verdict::Ok, Protection::Cleartext, {}},
      {"none never needs TLS", Level::None, Seen::NoStarttls, {}, {}, Verdict::Ok, Protection::Cleartext, {}},
      // ...never under encrypt or stronger.
      {"encrypt, no STARTTLS", Level::Encrypt, Seen::NoStarttls, {}, {}, Verdict::Fail, Protection::Cleartext, ResultType::StarttlsNotSupported},
      {"encrypt, refused", Level::Encrypt, Seen::Refused, {}, {}, Verdict::Fail, Protection::Cleartext, ResultType::StarttlsNotSupported},
      {"verify, no STARTTLS", Level::Verify, Seen::NoStarttls, {}, {}, Verdict::Fail, Protection::Cleartext, ResultType::StarttlsNotSupported},
      {"encrypt, handshake failed", Level::Encrypt, Seen::HandshakeFailed, {}, {}, Verdict::Fail, Protection::Cleartext, ResultType::ValidationFailure},
      // R3: soft-fail when not expected.
      {"may, self-signed", Level::May, Seen::Tls, tls(false, false, "self-signed certificate"), {}, Verdict::Ok, Protection::Encrypted, {}, true},
      {"encrypt, expired", Level::Encrypt, Seen::Tls, tls(false, true, "certificate has expired"), {}, Verdict::Ok, Protection::Encrypted, {}, true},
      {"may, all good", Level::May, Seen::Tls, tls(true, true), {}, Verdict::Ok, Protection::Encrypted, {}, false},
      // R4 + R7: enforce when expected; authenticated only with proof.
      {"verify ok", Level::Verify, Seen::Tls, tls(true, true), {}, Verdict::Ok, Protection::Authenticated, {}},
      {"secure ok", Level::Secure, Seen::Tls, tls(true, true), {}, Verdict::Ok, Protection::Authenticated, {}},
      {"verify, untrusted", Level::Verify, Seen::Tls, tls(false, true, "unable to get local issuer certificate"), {}, Verdict::Fail, Protection::Encrypted, ResultType::CertificateNotTrusted},
      {"verify, expired", Level::Verify, Seen::Tls, tls(false, true, "certificate has expired"), {}, Verdict::Fail, Protection::Encrypted, ResultType::CertificateExpired},
      {"secure, wrong name", Level::Secure, Seen::Tls, tls(true, false, "name"), {}, Verdict::Fail, Protection::Encrypted, ResultType::CertificateHostMismatch},
      {"fingerprint, cert digest", Level::Fingerprint, Seen::Tls, tls(false, false), {"AA:11"}, Verdict::Ok, Protection::Authenticated, {}},
      {"fingerprint, spki digest", Level::Fingerprint, Seen::Tls, tls(false, false), {"00", "bb22"}, Verdict::Ok, Protection::Authenticated, {}},
      {"fingerprint, mismatch", Level::Fingerprint, Seen::Tls, tls(true, true), {"cc33"}, Verdict::Fail, Protection::Encrypted, ResultType::ValidationFailure},
      // Errors: temporary ones defer, the peer's refusal fails.
      {"timeout defers", Level::May, Seen::Timeout, {}, {}, Verdict::Defer, Protection::Cleartext, {}},
      {"554 greeting fails", Level::May, Seen::Rejected5xx, {}, {}, Verdict::Fail, Protection::Cleartext, {}},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    const auto a = summary(r.seen);
    std::optional<AuthCheck> auth;
    if (a.tls) auth = authenticate(r.level, r.facts, r.fingerprints);
    const auto d = decide(r.level, a, auth);
    EXPECT_EQ(d.verdict, r.verdict);
    EXPECT_EQ(d.protection, r.protection);
    EXPECT_EQ(d.soft_fail, r.soft_fail);
    if (r.result) {
      ASSERT_TRUE(d.failure);
      EXPECT_EQ(d.failure->result_type, r.result);
    }
    EXPECT_EQ(d.failure.has_value(), d.verdict != Verdict::Ok) << "a failure reason iff not ok";
    if (d.protection == Protection::Authenticated) {
      EXPECT_NE(d.auth_method, AuthMethod::None);
    } else {
      EXPECT_EQ(d.auth_method, AuthMethod::None) << "R7: no auth method without authentication";
    }
  }
}

TEST(Decide, UnauthenticatedLevelsNeverClaimAuthentication) {
  // R7: even a perfect chain and name at may/encrypt is "encrypted", trust Trusted, not Verified.
  for (Level level : {Level::May, Level::Encrypt, Level::Opportunistic}) {
    const auto facts = tls(true, true);
    const auto auth = authenticate(level, facts, {});
    EXPECT_FALSE(auth.proof);
    EXPECT_EQ(trust_of(facts, auth.proof), Trust::Trusted);
    EXPECT_EQ(decide(level, summary(Seen::Tls), auth).protection, Protection::Encrypted);
  }
}

TEST(Decide, TrustWords) {
  TlsFacts anon;
  EXPECT_EQ(trust_of(anon, std::nullopt), Trust::Anonymous);
  EXPECT_EQ(trust_of(tls(false, true), std::nullopt), Trust::Untrusted);
  EXPECT_EQ(trust_of(tls(true, false), std::nullopt), Trust::Trusted);
  const auto pkix = authenticate(Level::Verify, tls(true, true), {});
  EXPECT_EQ(trust_of(tls(true, true), pkix.proof), Trust::Verified);
}

TEST(Decide, VerdictForEveryErrc) {
  for (auto e : {Errc::Resolve, Errc::Connect, Errc::Timeout, Errc::Closed, Errc::Io, Errc::TempRejected}) {
    EXPECT_EQ(verdict_for({e, Fault::Network, ""}), Verdict::Defer) << name(e);
  }
  for (auto e : {Errc::Usage, Errc::LineTooLong, Errc::ReplyTooLong, Errc::Malformed, Errc::Rejected, Errc::Handshake, Errc::Tls}) {
    EXPECT_EQ(verdict_for({e, Fault::Peer, ""}), Verdict::Fail) << name(e);
  }
}

TEST(Decide, NormalizeDigest) {
  EXPECT_EQ(normalize_digest("AB:cd:EF"), "abcdef");
  EXPECT_EQ(normalize_digest("abcdef"), "abcdef");
}

}  // namespace
}  // namespace ostls::policy

namespace ostls::policy {
namespace {

// TOFU (RFC 7435 §1.3): first contact passes unauthenticated and is to be pinned; the pinned key
// authenticates; another key fails with both named.
TEST(DecideMtaSts, EnforcedPolicyAuthenticatesAsMtaStsOnlyThroughPkix) {
  const auto ok = authenticate(Level::Verify, tls(true, true), {}, std::nullopt, true);
  ASSERT_TRUE(ok.proof);
  EXPECT_EQ(ok.proof->method(), AuthMethod::MtaSts);
  const auto d = decide(Level::Verify, summary(Seen::Tls), ok);
  EXPECT_EQ(d.protection, Protection::Authenticated);
  EXPECT_EQ(d.auth_method, AuthMethod::MtaSts);
  // The name or the chain does not verify: RFC 8461 §4 fails the MX host, with RFC 8460's type.
  const auto wrong_name = authenticate(Level::Verify, tls(true, false, "no SAN matches"), {}, std::nullopt, true);
  EXPECT_FALSE(wrong_name.proof);
  const auto refused = decide(Level::Verify, summary(Seen::Tls), wrong_name);
  EXPECT_EQ(refused.verdict, Verdict::Fail);
  EXPECT_EQ(refused.failure->result_type, ResultType::CertificateHostMismatch);
  EXPECT_EQ(decide(Level::Verify, summary(Seen::NoStarttls), std::nullopt).failure->result_type,
            ResultType::StarttlsNotSupported);
  // The flag names the source of Level::Verify only; it never upgrades another level.
  const auto may = authenticate(Level::May, tls(true, true), {}, std::nullopt, true);
  EXPECT_FALSE(may.proof);
  EXPECT_EQ(authenticate(Level::Verify, tls(true, true), {}).proof->method(), AuthMethod::Pkix);
}

TEST(DecideMtaSts, CheckOfATestingPolicy) {
  EXPECT_EQ(sts_check(false, nullptr)->result_type, ResultType::ValidationFailure);  // first: not listed
  EXPECT_EQ(sts_check(true, nullptr)->result_type, ResultType::StarttlsNotSupported);
  const auto expired = tls(false, true, "certificate has expired");
  EXPECT_EQ(sts_check(true, &expired)->result_type, ResultType::CertificateExpired);
  const auto untrusted = tls(false, true, "self-signed certificate");
  EXPECT_EQ(sts_check(true, &untrusted)->result_type, ResultType::CertificateNotTrusted);
  const auto misnamed = tls(true, false, "no SAN matches");
  EXPECT_EQ(sts_check(true, &misnamed)->result_type, ResultType::CertificateHostMismatch);
  TlsFacts anonymous = tls(true, true);
  anonymous.peer.reset();
  EXPECT_EQ(sts_check(true, &anonymous)->result_type, ResultType::CertificateNotTrusted);
  const auto good = tls(true, true);
  EXPECT_EQ(sts_check(true, &good), std::nullopt);
}

TEST(DecideTofu, FirstUseMatchAndMismatch) {
  const auto facts = tls(false, false, "self-signed");
  const auto first = authenticate(Level::Tofu, facts, {}, std::nullopt);
  EXPECT_TRUE(first.first_use);
  EXPECT_FALSE(first.proof);
  auto d = decide(Level::Tofu, summary(Seen::Tls), first);
  EXPECT_EQ(d.verdict, Verdict::Ok);
  EXPECT_EQ(d.protection, Protection::Encrypted);
  EXPECT_EQ(trust_of(facts, first.proof), Trust::Untrusted);

  const auto match = authenticate(Level::Tofu, facts, {}, fp_spki);
  ASSERT_TRUE(match.proof);
  d = decide(Level::Tofu, summary(Seen::Tls), match);
  EXPECT_EQ(d.verdict, Verdict::Ok);
  EXPECT_EQ(d.protection, Protection::Authenticated);
  EXPECT_EQ(d.auth_method, AuthMethod::Tofu);
  EXPECT_EQ(trust_of(facts, match.proof), Trust::Verified);

  const auto other = authenticate(Level::Tofu, facts, {}, std::string("cc33"));
  EXPECT_FALSE(other.proof);
  EXPECT_FALSE(other.first_use);
  d = decide(Level::Tofu, summary(Seen::Tls), other);
  EXPECT_EQ(d.verdict, Verdict::Fail);
  EXPECT_EQ(d.protection, Protection::Encrypted);
  ASSERT_TRUE(d.failure);
  EXPECT_EQ(d.failure->result_type, ResultType::ValidationFailure);
  EXPECT_NE(d.failure->detail.find(fp_spki), std::string::npos);
  EXPECT_NE(d.failure->detail.find("cc33"), std::string::npos);
}

TEST(DecideTofu, NoTlsUnderTofuFails) {
  const auto d = decide(Level::Tofu, summary(Seen::NoStarttls), std::nullopt);
  EXPECT_EQ(d.verdict, Verdict::Fail);
  EXPECT_EQ(d.failure->result_type, ResultType::StarttlsNotSupported);
}

TEST(DecideTofu, StoreFailureDefers) {
  EXPECT_EQ(verdict_for(Error{Errc::Store, Fault::Local, "database is locked"}), Verdict::Defer);
}

}  // namespace
}  // namespace ostls::policy
