#include "dane/dane.hpp"

#include <array>

#include <fmt/format.h>

#include "core/names.hpp"

namespace ostls::dane {
namespace {

constexpr std::array<Named<TlsaState>, 7> state_table{{
    {TlsaState::NotLookedUp, "not-looked-up"},
    {TlsaState::Insecure, "insecure"},
    {TlsaState::NoRecords, "none"},
    {TlsaState::Unusable, "unusable"},
    {TlsaState::Usable, "secure"},
    {TlsaState::Bogus, "bogus"},
    {TlsaState::Failed, "servfail"},
}};
static_assert(covers(state_table, 7));

Failure failure(std::optional<ResultType> type, Fault fault, std::string detail) {
  return Failure{.result_type = type, .fault = fault, .detail = std::move(detail)};
}

}  // namespace

std::string_view name(TlsaState s) { return name_in(state_table, s); }

bool usable(const dns::Tlsa& r, bool smtp) {
  switch (r.usage) {
    case 0:
    case 1:
      if (smtp) return false;  // RFC 7672 §3.1.3
      break;
    case 2:
    case 3:
      break;
    default:
      return false;
  }
  if (r.selector > 1) return false;
  switch (r.mtype) {
    case 0: return !r.data.empty();
    case 1: return r.data.size() == 32;  // SHA2-256
    case 2: return r.data.size() == 64;  // SHA2-512
    default: return false;
  }
}

TlsaSet classify(const dns::Answer& a, bool smtp) {
  TlsaSet set;
  set.owner = a.qname;
  if (a.security == dns::Security::Bogus) {
    set.state = TlsaState::Bogus;
    set.detail = a.why_bogus.empty() ? "DNSSEC validation failed" : a.why_bogus;
    return set;
  }
  if (a.rcode != dns::Rcode::NoError && a.rcode != dns::Rcode::NxDomain) {
    set.state = TlsaState::Failed;
    set.detail = fmt::format("TLSA lookup failed: {}{}", dns::name(a.rcode), a.why_bogus.empty() ? "" : ": " + a.why_bogus);
    return set;
  }
  for (const auto& rd : a.rdata) {
    if (auto t = dns::parse_tlsa(rd)) set.records.push_back(std::move(*t));
  }
  if (!a.secure()) {
    set.state = TlsaState::Insecure;  // RFC 7672 §2.2: unsigned TLSA records are ignored
    return set;
  }
  if (set.records.empty() && a.rdata.empty()) {
    set.state = TlsaState::NoRecords;
    return set;
  }
  for (const auto& r : set.records) {
    if (usable(r, smtp)) set.usable.push_back(r);
  }
  set.state = set.usable.empty() ? TlsaState::Unusable : TlsaState::Usable;
  return set;
}

Effect apply(Level asked, PolicySource asked_source, const TlsaSet& tlsa) {
  Effect e{.effective = asked, .source = asked_source};
  if (asked != Level::Dane && asked != Level::DaneOnly && asked != Level::Opportunistic) return e;
  switch (tlsa.state) {
    case TlsaState::Bogus:
      e.stop = Verdict::Defer;  // R9: never cleartext, never a guess
      e.failure = failure(ResultType::DnssecInvalid, Fault::Dns, fmt::format("TLSA {}: {}", tlsa.owner, tlsa.detail));
      return e;
    case TlsaState::Failed:
      e.stop = Verdict::Defer;
      e.failure = failure(std::nullopt, Fault::Dns, fmt::format("TLSA {}: {}", tlsa.owner, tlsa.detail));
      return e;
    case TlsaState::Usable:
      e.effective = Level::DaneOnly;  // R4: authentication expected and enforced
      e.source = PolicySource::Dane;
      return e;
    case TlsaState::Unusable:
      e.effective = Level::Encrypt;  // R8: a secure RRset still makes TLS mandatory
      e.source = PolicySource::Dane;
      return e;
    case TlsaState::NotLookedUp:
    case TlsaState::Insecure:
    case TlsaState::NoRecords:
      break;
  }
  if (asked == Level::DaneOnly) {
    e.stop = Verdict::Fail;
    e.failure = failure(ResultType::DaneRequired, Fault::Policy,
                        fmt::format("dane-only: no usable DNSSEC-validated TLSA records ({} is {})",
                                    tlsa.owner.empty() ? std::string("TLSA") : tlsa.owner, name(tlsa.state)));
    return e;
  }
  e.effective = Level::May;  // RFC 7672 §2.2: no secure TLSA → opportunistic TLS
  return e;
}

}  // namespace ostls::dane
