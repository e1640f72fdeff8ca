// RFC 7672 §2.2 and §3.1.3 as tables: which TLSA records are usable, what a TLSA answer means,
// and its effect on dane, dane-only and opportunistic (SPEC R4, R8, R9).
#include <gtest/gtest.h>

#include "dane/dane.hpp"

namespace ostls::dane {
namespace {

dns::Tlsa rec(std::uint8_t u, std::uint8_t s, std::uint8_t m, std::size_t len) {
  return {.usage = u, .selector = s, .mtype = m, .data = std::string(len, '\x11')};
}

struct UsableRow {
  const char* label;
  dns::Tlsa record;
  bool smtp, usable;
};

TEST(Dane, UsableRecords) {
  const UsableRow rows[] = {
      {"DANE-EE SPKI SHA-256", rec(3, 1, 1, 32), true, true},
      {"DANE-EE cert SHA-512", rec(3, 0, 2, 64), true, true},
      {"DANE-TA full cert", rec(2, 0, 0, 300), true, true},
      {"PKIX-EE for SMTP", rec(1, 1, 1, 32), true, false},
      {"PKIX-TA for SMTP", rec(0, 0, 1, 32), true, false},
      {"PKIX-EE elsewhere (RFC 7671)", rec(1, 1, 1, 32), false, true},
      {"usage 4", rec(4, 1, 1, 32), true, false},
      {"selector 2", rec(3, 2, 1, 32), true, false},
      {"matching type 9", rec(3, 1, 9, 32), true, false},
      {"SHA-256 of wrong length", rec(3, 1, 1, 31), true, false},
      {"SHA-512 of wrong length", rec(3, 1, 2, 32), true, false},
      {"full data empty", rec(3, 1, 0, 0), true, false},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(usable(r.record, r.smtp), r.usable) << r.label;
  }
}

dns::Answer answer(dns::Rcode rcode, dns::Security sec, std::vector<dns::Tlsa> records) {
  dns::Answer a;
  a.qname = "_25._tcp.mx.example.org";
  a.rcode = rcode;
  a.security = sec;
  for (const auto& r : records) {
    a.rdata.push_back(std::string{static_cast<char>(r.usage), static_cast<char>(r.selector), static_cast<char>(r.mtype)} +
                      r.data);
  }
  return a;
}

TEST(Dane, Classify) {
  using dns::Rcode;
  using dns::Security;
  struct Row {
    const char* label;
    dns::Answer a;
    TlsaState state;
    std::size_t usable;
  };
  const Row rows[] = {
      {"secure usable", answer(Rcode::NoError, Security::Secure, {rec(3, 1, 1, 32), rec(4, 1, 1, 32)}), TlsaState::Usable, 1},
      {"secure only unusable", answer(Rcode::NoError, Security::Secure, {rec(1, 1, 1, 32), rec(3, 1, 9, 32)}), TlsaState::Unusable, 0},
      {"secure nodata", answer(Rcode::NoError, Security::Secure, {}), TlsaState::NoRecords, 0},
      {"secure nxdomain", answer(Rcode::NxDomain, Security::Secure, {}), TlsaState::NoRecords, 0},
      {"insecure with records", answer(Rcode::NoError, Security::Insecure, {rec(3, 1, 1, 32)}), TlsaState::Insecure, 0},
      {"bogus", answer(Rcode::NoError, Security::Bogus, {rec(3, 1, 1, 32)}), TlsaState::Bogus, 0},
      {"servfail", answer(Rcode::ServFail, Security::Insecure, {}), TlsaState::Failed, 0},
      {"timeout", answer(Rcode::Timeout, Security::Insecure, {}), TlsaState::Failed, 0},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    const auto set = classify(r.a, true);
    EXPECT_EQ(set.state, r.state);
    EXPECT_EQ(set.usable.size(), r.usable);
    EXPECT_EQ(set.owner, "_25._tcp.mx.example.org");
  }
  auto malformed = answer(dns::Rcode::NoError, dns::Security::Secure, {});
  malformed.rdata = {"\x03"};
  EXPECT_EQ(classify(malformed, true).state, TlsaState::Unusable) << "malformed records count as unusable (R8)";
}

TEST(Dane, Effect) {
  struct Row {
    Level asked;
    TlsaState state;
    Level effective;
    std::optional<Verdict> stop;
    std::optional<ResultType> result;
  };
  const Row rows[] = {
      {Level::Dane, TlsaState::Usable, Level::DaneOnly, {}, {}},
      {Level::DaneOnly, TlsaState::Usable, Level::DaneOnly, {}, {}},
      {Level::Opportunistic, TlsaState::Usable, Level::DaneOnly, {}, {}},
      {Level::Dane, TlsaState::Unusable, Level::Encrypt, {}, {}},
      {Level::Opportunistic, TlsaState::Unusable, Level::Encrypt, {}, {}},
      {Level::Dane, TlsaState::NoRecords, Level::May, {}, {}},
      {Level::Dane, TlsaState::Insecure, Level::May, {}, {}},
      {Level::Opportunistic, TlsaState::NotLookedUp, Level::May, {}, {}},
      {Level::DaneOnly, TlsaState::NoRecords, Level::DaneOnly, Verdict::Fail, ResultType::DaneRequired},
      {Level::DaneOnly, TlsaState::Insecure, Level::DaneOnly, Verdict::Fail, ResultType::DaneRequired},
      {Level::Dane, TlsaState::Bogus, Level::Dane, Verdict::Defer, ResultType::DnssecInvalid},
      {Level::Opportunistic, TlsaState::Failed, Level::Opportunistic, Verdict::Defer, {}},
      {Level::Verify, TlsaState::Usable, Level::Verify, {}, {}},  // explicit non-DANE levels are left alone
      {Level::May, TlsaState::Bogus, Level::May, {}, {}},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(name(r.asked)) + " / " + std::string(name(r.state)));
    TlsaSet set;
    set.state = r.state;
    set.owner = "_25._tcp.mx.example.org";
    const auto e = apply(r.asked, PolicySource::Default, set);
    EXPECT_EQ(e.effective, r.effective);
    EXPECT_EQ(e.stop, r.stop);
    if (r.stop) {
      ASSERT_TRUE(e.failure);
      EXPECT_EQ(e.failure->result_type, r.result);
    }
    const bool decided_by_tlsa = r.state == TlsaState::Usable || r.state == TlsaState::Unusable;
    const bool dane_level = r.asked == Level::Dane || r.asked == Level::DaneOnly || r.asked == Level::Opportunistic;
    EXPECT_EQ(e.source == PolicySource::Dane, decided_by_tlsa && dane_level);
  }
}

}  // namespace
}  // namespace ostls::dane
