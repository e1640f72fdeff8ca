#include "core/outcome.hpp"

#include <algorithm>
#include <array>

#include "core/names.hpp"

namespace ostls {
namespace {

constexpr std::array<Named<Protection>, 3> protection_table{{
    {Protection::Cleartext, "cleartext"},
    {Protection::Encrypted, "encrypted"},
    {Protection::Authenticated, "authenticated"},
}};
static_assert(covers(protection_table, 3));

constexpr std::array<Named<AuthMethod>, 7> auth_table{{
    {AuthMethod::None, "none"},
    {AuthMethod::DaneEe, "dane-ee"},
    {AuthMethod::DaneTa, "dane-ta"},
    {AuthMethod::MtaSts, "mta-sts"},
    {AuthMethod::Pkix, "pkix"},
    {AuthMethod::Fingerprint, "fingerprint"},
    {AuthMethod::Tofu, "tofu"},
}};
static_assert(covers(auth_table, 7));

constexpr std::array<Named<Trust>, 4> trust_table{{
    {Trust::Anonymous, "Anonymous"},
    {Trust::Untrusted, "Untrusted"},
    {Trust::Trusted, "Trusted"},
    {Trust::Verified, "Verified"},
}};
static_assert(covers(trust_table, 4));

constexpr std::array<Named<Verdict>, 3> verdict_table{{
    {Verdict::Ok, "ok"},
    {Verdict::Fail, "fail"},
    {Verdict::Defer, "defer"},
}};
static_assert(covers(verdict_table, 3));

constexpr std::array<Named<PolicySource>, 6> source_table{{
    {PolicySource::Default, "default"},
    {PolicySource::CommandLine, "command-line"},
    {PolicySource::PolicyMap, "policy-map"},
    {PolicySource::Dane, "dane"},
    {PolicySource::Tofu, "tofu"},
    {PolicySource::MtaSts, "mta-sts"},
}};
static_assert(covers(source_table, 6));

constexpr std::array<Named<EventType>, 15> event_table{{
    {EventType::FallbackToCleartext, "fallback-to-cleartext"},
    {EventType::ResponseInjection, "response-injection"},
    {EventType::CommandInjection, "command-injection"},
    {EventType::StarttlsMasked, "starttls-masked"},
    {EventType::StarttlsRefused, "starttls-refused"},
    {EventType::StarttlsAfterTls, "starttls-after-tls"},
    {EventType::ResetAfterStarttls, "reset-after-starttls"},
    {EventType::StarttlsAcceptedUnadvertised, "starttls-accepted-unadvertised"},
    {EventType::AuthSoftFail, "auth-soft-fail"},
    {EventType::HeloFallback, "helo-fallback"},
    {EventType::DowngradeSuspected, "downgrade-suspected"},
    {EventType::PreauthSkipsStarttls, "preauth-skips-starttls"},
    {EventType::StarttlsStripped, "starttls-stripped"},
    {EventType::TofuKeyChanged, "tofu-key-changed"},
    {EventType::MtaStsTestingFailure, "mta-sts-testing-failure"},
}};
static_assert(covers(event_table, 15));

constexpr std::array<Named<ResultType>, 11> result_table{{
    {ResultType::StarttlsNotSupported, "starttls-not-supported"},
    {ResultType::CertificateHostMismatch, "certificate-host-mismatch"},
    {ResultType::CertificateExpired, "certificate-expired"},
    {ResultType::CertificateNotTrusted, "certificate-not-trusted"},
    {ResultType::ValidationFailure, "validation-failure"},
    {ResultType::TlsaInvalid, "tlsa-invalid"},
    {ResultType::DnssecInvalid, "dnssec-invalid"},
    {ResultType::DaneRequired, "dane-required"},
    {ResultType::StsPolicyFetchError, "sts-policy-fetch-error"},
    {ResultType::StsPolicyInvalid, "sts-policy-invalid"},
    {ResultType::StsWebpkiInvalid, "sts-webpki-invalid"},
}};
static_assert(covers(result_table, 11));

}  // namespace

std::string_view name(Protection v) { return name_in(protection_table, v); }
std::string_view name(AuthMethod v) { return name_in(auth_table, v); }
std::string_view name(Trust v) { return name_in(trust_table, v); }
std::string_view name(Verdict v) { return name_in(verdict_table, v); }
std::string_view name(PolicySource v) { return name_in(source_table, v); }
std::string_view name(EventType v) { return name_in(event_table, v); }
std::string_view name(ResultType v) { return name_in(result_table, v); }
std::optional<EventType> parse_event_type(std::string_view n) { return parse_in(event_table, n); }

bool Outcome::has(EventType type) const {
  return std::any_of(events.begin(), events.end(), [type](const Event& e) { return e.type == type; });
}

}  // namespace ostls
