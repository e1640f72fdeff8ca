// TLS-RPT aggregate reports (report/tlsrpt.hpp), pure: RFC 8460 §4.3 (result types of one
// outcome), §4.4 (the report: policies, summary counts, failure-details grouping, date range),
// §5.3 (file name, gzip). The golden reports in tests/data/tlsrpt/ are checked against the §4.4
// JSON schema by tests/report/check_tlsrpt_schema.py (CTest `tlsrpt_schema`).
#include <gtest/gtest.h>

#include <zlib.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "report/gzip.hpp"
#include "report/tlsrpt.hpp"

namespace ostls::report {
namespace {

constexpr store::Seconds day = 1795392000;  // 2026-11-23T00:00:00Z

std::string golden(const std::string& name) {
  std::ifstream in(std::string(OSTLS_TEST_DATA) + "/tlsrpt/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Outcome outcome(Verdict v, bool tls) {
  Outcome o;
  o.host = "mx1.example.org";
  o.address = "192.0.2.1";
  o.verdict = v;
  o.policy = {.level = Level::Opportunistic, .effective = Level::May, .source = PolicySource::Default};
  if (tls) o.tls = TlsFacts{};
  return o;
}

Outcome with_dane(Outcome o) {
  o.policy = {.level = Level::Dane, .effective = Level::DaneOnly, .source = PolicySource::Dane};
  o.signals.tlsa = TlsaSignal{.state = "secure", .owner = "_25._tcp.mx1.example.org",
                              .records = {{.usage = 3, .selector = 1, .mtype = 1, .data = "ab12"},
                                          {.usage = 2, .selector = 0, .mtype = 1, .data = "cd34"}},
                              .usable = true};
  return o;
}

Outcome failed(Outcome o, std::optional<ResultType> type, std::string detail) {
  o.failure = Failure{.result_type = type, .fault = Fault::Peer, .detail = std::move(detail)};
  return o;
}

Outcome with_event(Outcome o, EventType type, std::string detail) {
  o.add(type, std::move(detail));
  return o;
}

// RFC 8460 §4.3: what one outcome is for TLS-RPT.
struct SessionCase {
  const char* label;
  Outcome outcome;
  bool destination;
  bool recorded;
  const char* policy_type;
  bool success;
  std::optional<std::string> result_type;
  const char* detail;
};

TEST(TlsrptSession, EachOutcomeIsOneRecord) {
  Outcome none = outcome(Verdict::Ok, false);
  none.policy.effective = Level::None;
  Outcome unusable = with_dane(outcome(Verdict::Ok, true));
  unusable.policy.effective = Level::Encrypt;  // R8: secure RRset, no usable record
  const SessionCase cases[] = {
      {"ok over TLS, no policy", outcome(Verdict::Ok, true), false, true, "no-policy-found", true, std::nullopt, ""},
      {"ok over TLS, DANE", with_dane(outcome(Verdict::Ok, true)), false, true, "tlsa", true, std::nullopt, ""},
      {"ok over TLS, unusable TLSA (R8)", unusable, false, true, "tlsa", true, std::nullopt, ""},
      {"cleartext, STARTTLS not offered", outcome(Verdict::Ok, false), false, true, "no-policy-found", false,
       "starttls-not-supported", "STARTTLS not offered: the session went on in cleartext"},
      {"cleartext after a failed handshake (R2)",
       with_event(outcome(Verdict::Ok, false), EventType::FallbackToCleartext, "handshake failed: boom"), false, true,
       "no-policy-found", false, "validation-failure", "handshake failed: boom"},
      {"cleartext, STARTTLS refused",
       with_event(outcome(Verdict::Ok, false), EventType::StarttlsRefused, "upgrade advertised, then refused: 454"),
       false, true, "no-policy-found", false, "starttls-not-supported", "upgrade advertised, then refused: 454"},
      {"fail: expired", failed(outcome(Verdict::Fail, true), ResultType::CertificateExpired, "expired"), false, true,
       "no-policy-found", false, "certificate-expired", "expired"},
      {"fail: DANE mismatch",
       failed(with_dane(outcome(Verdict::Fail, true)), ResultType::ValidationFailure, "no TLSA record matched"), false,
       true, "tlsa", false, "validation-failure", "no TLSA record matched"},
      {"defer: no result type (connection refused)",
       failed(outcome(Verdict::Defer, false), std::nullopt, "cannot connect"), false, true, "no-policy-found", false,
       std::nullopt, "cannot connect"},
      {"destination: bogus MX", failed(outcome(Verdict::Defer, false), ResultType::DnssecInvalid, "MX is bogus"), true,
       true, "no-policy-found", false, "dnssec-invalid", "MX is bogus"},
      {"level none: TLS never attempted", none, false, false, "", false, std::nullopt, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    const auto r = session_record(c.outcome, {.policy_domain = "Example.ORG.",
                                              .destination = c.destination,
                                              .at = 42,
                                              .sending_address = "198.51.100.7"});
    ASSERT_EQ(r.has_value(), c.recorded);
    if (!r) continue;
    EXPECT_EQ(r->at, 42);
    EXPECT_EQ(r->policy_domain, "example.org");
    EXPECT_EQ(r->policy_type, c.policy_type);
    EXPECT_EQ(r->success, c.success);
    EXPECT_EQ(r->result_type, c.result_type);
    EXPECT_EQ(r->detail, c.detail);
    EXPECT_EQ(r->mx_host, c.destination ? "" : "mx1.example.org");
    EXPECT_EQ(r->address, "192.0.2.1");
    EXPECT_EQ(r->sending_address, "198.51.100.7");
    if (r->policy_type == "tlsa") {
      EXPECT_EQ(r->policy_strings, (std::vector<std::string>{"3 1 1 ab12", "2 0 1 cd34"}));
    } else {
      EXPECT_TRUE(r->policy_strings.empty());
    }
  }
}

Outcome with_sts(Outcome o, const char* mode, bool listed) {
  o.signals.mta_sts = MtaStsSignal{.txt_id = "id1", .policy_id = "id1", .mode = mode,
                                   .mx = {"mx1.example.org", "*.example.net"}, .max_age = 86400,
                                   .source = "fetched"};
  if (listed) o.signals.mta_sts->mx_match = "mx1.example.org";
  if (std::string_view(mode) == "enforce") {
    o.policy = {.level = Level::Opportunistic, .effective = Level::Verify, .source = PolicySource::MtaSts};
  }
  return o;
}

TEST(TlsrptSession, MtaStsPolicies) {
  const std::vector<std::string> lines{"version: STSv1", "mode: enforce", "mx: mx1.example.org", "mx: *.example.net",
                                       "max_age: 86400"};
  // enforce, met
  auto r = session_record(with_sts(outcome(Verdict::Ok, true), "enforce", true), {.policy_domain = "example.org"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy_type, "sts");
  EXPECT_TRUE(r->success);
  EXPECT_EQ(r->policy_strings, lines);
  // enforce, the MX host not listed: the failure probe_host() classified
  r = session_record(failed(with_sts(outcome(Verdict::Fail, false), "enforce", false), ResultType::ValidationFailure,
                            "not listed"),
                     {.policy_domain = "example.org"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy_type, "sts");
  EXPECT_EQ(r->result_type, "validation-failure");
  // testing: the session went on, but a certificate not valid for the MX host is reported
  auto testing = with_sts(outcome(Verdict::Ok, true), "testing", true);
  testing.tls->peer = CertFacts{};
  testing.tls->verify = {.chain_ok = true, .name_ok = false, .error = "name mismatch"};
  r = session_record(testing, {.policy_domain = "example.org"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy_type, "sts");
  EXPECT_FALSE(r->success);
  EXPECT_EQ(r->result_type, "certificate-host-mismatch");
  EXPECT_EQ(r->policy_strings.at(1), "mode: testing");
  // testing, all met: a success
  testing.tls->verify = {.chain_ok = true, .name_ok = true, .error = ""};
  r = session_record(testing, {.policy_domain = "example.org"});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->success);
  // mode none: no policy
  r = session_record(with_sts(outcome(Verdict::Ok, true), "none", false), {.policy_domain = "example.org"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy_type, "no-policy-found");
  EXPECT_TRUE(r->success);
  // announced, but the fetch failed and nothing was cached: the fetch failure is reported
  auto fetch_failed = outcome(Verdict::Ok, true);
  fetch_failed.signals.mta_sts = MtaStsSignal{.txt_id = "id1", .error = "connection refused",
                                              .error_type = ResultType::StsPolicyFetchError};
  r = session_record(fetch_failed, {.policy_domain = "example.org"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy_type, "sts");
  EXPECT_FALSE(r->success);
  EXPECT_EQ(r->result_type, "sts-policy-fetch-error");
  EXPECT_EQ(r->detail, "connection refused");
  // DANE preempts MTA-STS (RFC 8461 §2)
  auto both = with_sts(with_dane(outcome(Verdict::Ok, true)), "testing", false);
  r = session_record(both, {.policy_domain = "example.org"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy_type, "tlsa");
  EXPECT_TRUE(r->success);
}

TEST(TlsrptSession, NoAddressNoSendingAddressAndHostNamesInLowerCase) {
  auto o = failed(outcome(Verdict::Defer, false), ResultType::DnssecInvalid, "TLSA bogus");
  o.address.clear();
  o.host = "MX1.Example.ORG.";
  const auto r = session_record(o, {.policy_domain = "example.org", .at = 1, .sending_address = "198.51.100.7"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mx_host, "mx1.example.org");
  EXPECT_EQ(r->address, "");
  EXPECT_EQ(r->sending_address, "");
}

store::OutcomeRecord rec(std::string type, std::string mx, std::string ip, bool success,
                         std::optional<std::string> result = std::nullopt, std::string detail = "",
                         std::vector<std::string> strings = {}) {
  return {.at = day + 60,
          .policy_domain = "example.org",
          .policy_type = std::move(type),
          .mx_host = std::move(mx),
          .address = ip,
          .success = success,
          .result_type = std::move(result),
          .detail = std::move(detail),
          .sending_address = ip.empty() ? "" : "198.51.100.7",
          .policy_strings = std::move(strings)};
}

// One day of example.org: DANE on mx1 (3 successes, 1 mismatch), no policy on mx2 (1 success,
// 2 identical expired sessions, 1 without STARTTLS), an MTA-STS policy (1 success), a bogus MX
// lookup (no host, no address), and a refused connection (no result type: not a TLS session).
std::vector<store::OutcomeRecord> day_of_example_org() {
  const std::vector<std::string> tlsa{"3 1 1 ab12"};
  const std::vector<std::string> sts{"version: STSv1", "mode: enforce", "mx: mx1.example.org", "mx: *.example.org",
                                     "max_age: 86400"};
  return {
      rec("tlsa", "mx1.example.org", "192.0.2.1", true, std::nullopt, "", tlsa),
      rec("tlsa", "mx1.example.org", "192.0.2.1", true, std::nullopt, "", tlsa),
      rec("tlsa", "mx1.example.org", "192.0.2.1", false, "validation-failure", "no TLSA record matched", tlsa),
      rec("tlsa", "mx1.example.org", "192.0.2.1", true, std::nullopt, "", tlsa),
      rec("no-policy-found", "mx2.example.org", "192.0.2.2", true),
      rec("no-policy-found", "mx2.example.org", "192.0.2.2", false, "certificate-expired", "certificate has expired"),
      rec("no-policy-found", "mx2.example.org", "192.0.2.2", false, "certificate-expired", "certificate has expired"),
      rec("no-policy-found", "mx2.example.org", "192.0.2.2", false, "starttls-not-supported", "STARTTLS not offered"),
      rec("sts", "mx1.example.org", "192.0.2.1", true, std::nullopt, "", sts),
      rec("no-policy-found", "", "", false, "dnssec-invalid", "MX of example.org is bogus"),
      rec("no-policy-found", "mx3.example.org", "", false, std::nullopt, "cannot connect: Connection refused"),
  };
}

const ReportParams params{.organization = "Example Sender",
                          .contact = "tlsrpt@sender.example",
                          .report_id = "2026-11-23T00:00:00Z_example.org",
                          .policy_domain = "example.org",
                          .day = day};

TEST(TlsrptReport, MatchesTheGoldenReport) {
  const auto json = aggregate(params, day_of_example_org());
  EXPECT_EQ(json.dump(2) + "\n", golden("report-example.org.json"));
}

TEST(TlsrptReport, CountsEverySessionOnceAndGroupsIdenticalFailures) {
  const auto records = day_of_example_org();
  EXPECT_EQ(session_count(records), 10u);  // the refused connection is no TLS session
  const auto json = aggregate(params, records);
  std::size_t successes = 0, failures = 0;
  for (const auto& p : json["policies"]) {
    successes += p["summary"]["total-successful-session-count"].get<std::size_t>();
    const auto f = p["summary"]["total-failure-session-count"].get<std::size_t>();
    failures += f;
    std::size_t detailed = 0;
    if (p.contains("failure-details")) {
      for (const auto& d : p["failure-details"]) detailed += d["failed-session-count"].get<std::size_t>();
    }
    EXPECT_EQ(detailed, f) << p.dump();
  }
  EXPECT_EQ(successes, 5u);
  EXPECT_EQ(failures, 5u);
  // The two identical expired sessions are one entry with a count of 2.
  bool grouped = false;
  for (const auto& p : json["policies"]) {
    if (!p.contains("failure-details")) continue;
    for (const auto& d : p["failure-details"]) {
      if (d["result-type"] == "certificate-expired") grouped = d["failed-session-count"] == 2;
    }
  }
  EXPECT_TRUE(grouped);
}

TEST(TlsrptReport, PolicyEntriesPerAppliedPolicy) {
  const auto json = aggregate(params, day_of_example_org());
  ASSERT_EQ(json["policies"].size(), 3u);
  for (const auto& p : json["policies"]) {
    const auto& policy = p["policy"];
    EXPECT_EQ(policy["policy-domain"], "example.org");
    const auto type = policy["policy-type"].get<std::string>();
    if (type == "tlsa") {
      EXPECT_EQ(policy["policy-string"], nlohmann::ordered_json::array({"3 1 1 ab12"}));
      EXPECT_EQ(policy["mx-host"], nlohmann::ordered_json::array({"mx1.example.org"}));
    } else if (type == "sts") {
      EXPECT_EQ(policy["mx-host"], nlohmann::ordered_json::array({"mx1.example.org", "*.example.org"}));
      EXPECT_EQ(policy["policy-string"].size(), 5u);
    } else {
      EXPECT_EQ(type, "no-policy-found");
      EXPECT_FALSE(policy.contains("policy-string"));  // RFC 8460 §4.4: there is no policy
      EXPECT_FALSE(policy.contains("mx-host"));
    }
  }
}

TEST(TlsrptReport, TlsaPoliciesAreKeptApartPerHostAndRecordSet) {
  const std::vector<store::OutcomeRecord> records{
      rec("tlsa", "mx1.example.org", "192.0.2.1", true, std::nullopt, "", {"3 1 1 ab12"}),
      rec("tlsa", "mx2.example.org", "192.0.2.2", true, std::nullopt, "", {"3 1 1 ab12"}),
      rec("tlsa", "mx1.example.org", "192.0.2.1", true, std::nullopt, "", {"3 1 1 ffff"}),  // rollover
  };
  EXPECT_EQ(aggregate(params, records)["policies"].size(), 3u);
}

TEST(TlsrptReport, DateRangeIsTheWholeUtcDayAndHeaderFieldsAreKept) {
  const auto json = aggregate(params, {rec("no-policy-found", "mx", "192.0.2.1", true)});
  EXPECT_EQ(json["date-range"]["start-datetime"], "2026-11-23T00:00:00Z");
  EXPECT_EQ(json["date-range"]["end-datetime"], "2026-11-23T23:59:59Z");
  EXPECT_EQ(json["organization-name"], "Example Sender");
  EXPECT_EQ(json["contact-info"], "tlsrpt@sender.example");
  EXPECT_EQ(json["report-id"], "2026-11-23T00:00:00Z_example.org");
  EXPECT_FALSE(json["policies"][0].contains("failure-details"));
}

TEST(TlsrptReport, NoSessionsNoPolicies) {
  EXPECT_EQ(session_count({}), 0u);
  EXPECT_TRUE(aggregate(params, {})["policies"].empty());
}

TEST(TlsrptDay, ParsesStrictCalendarDates) {
  const struct {
    const char* text;
    std::optional<store::Seconds> expect;
  } cases[] = {
      {"2026-11-23", 1795392000}, {"2024-02-29", 1709164800}, {"1970-01-01", 0},
      {"2026-02-29", std::nullopt}, {"2026-13-01", std::nullopt}, {"2026-00-10", std::nullopt},
      {"2026-11-31", std::nullopt}, {"26-11-23", std::nullopt},    {"2026/11/23", std::nullopt},
      {"2026-11-23x", std::nullopt}, {"2026-1-023", std::nullopt}, {"", std::nullopt},
      {"1969-12-31", std::nullopt}, {"2026-11-2a", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const auto r = parse_day(c.text);
    ASSERT_EQ(r.has_value(), c.expect.has_value()) << (r ? "" : r.error().detail);
    if (r) {
      EXPECT_EQ(*r, *c.expect);
    } else {
      EXPECT_EQ(r.error().code, Errc::Usage);
    }
  }
}

TEST(TlsrptFilename, FollowsRfc8460Section5_3) {
  EXPECT_EQ(report_filename({.sender = "sender.example", .policy_domain = "example.org", .day = day, .gzip = true}),
            "sender.example!example.org!1795392000!1795478399.json.gz");
  EXPECT_EQ(report_filename({.sender = "sender.example", .policy_domain = "example.org", .day = day, .gzip = false}),
            "sender.example!example.org!1795392000!1795478399.json");
}

std::string gunzip(const std::string& z) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  zs.avail_in = static_cast<uInt>(z.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

TEST(TlsrptGzip, RoundTripsAndIsDeterministic) {
  const std::string text = aggregate(params, day_of_example_org()).dump(2) + "\n";
  const auto z = gzip(text);
  ASSERT_TRUE(z);
  ASSERT_GE(z->size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>((*z)[0]), 0x1f);  // RFC 1952 magic
  EXPECT_EQ(static_cast<unsigned char>((*z)[1]), 0x8b);
  EXPECT_LT(z->size(), text.size());
  EXPECT_EQ(gunzip(*z), text);
  EXPECT_EQ(*gzip(text), *z);
  const auto empty = gzip("");
  ASSERT_TRUE(empty);
  EXPECT_EQ(gunzip(*empty), "");
}

}  // namespace
}  // namespace ostls::report
