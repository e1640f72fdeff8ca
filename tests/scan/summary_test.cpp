// The scan summary (scan/summary.hpp) over hand-made outcomes in the `ostls probe --json` schema:
// every count checked against a hand count, including lines from older builds (no
// signals.mta_sts), a newer event type, fields of the wrong type and lines that are not objects.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "scan/summary.hpp"

namespace ostls::scan {
namespace {

using nlohmann::json;

json outcome(std::string_view verdict, std::string_view protection, std::string_view auth = "none") {
  return {{"target", "smtp://[192.0.2.1]"}, {"verdict", verdict}, {"protection", protection},
          {"auth_method", auth},            {"trust", nullptr},   {"tls", nullptr},
          {"policy", {{"level", "opportunistic"}, {"effective", "may"}, {"source", "default"}}},
          {"signals", {{"starttls_offered", false}, {"requiretls", false}, {"tlsa", nullptr}}},
          {"events", json::array()},        {"failure", nullptr}};
}

json tls(std::string_view version, bool pfs, bool chain_ok, bool name_ok, std::string_view error) {
  return {{"version", version},
          {"pfs", pfs},
          {"verify", {{"ok", chain_ok && name_ok}, {"chain_ok", chain_ok}, {"name_ok", name_ok},
                      {"error", error.empty() ? json(nullptr) : json(error)}}}};
}

// The corpus: 8 outcomes + 2 unreadable lines. Hand counts are in the test below.
Summary corpus() {
  Summary s;
  // 1. cleartext, STARTTLS not offered, no DNS (IP literal), older build: no mta_sts key.
  s.add(outcome("ok", "cleartext"));
  // 2. encrypted, self-signed and name mismatch, soft-fail event twice (counted once), TLSv1.3, PFS.
  auto o2 = outcome("ok", "encrypted");
  o2["trust"] = "Untrusted";
  o2["tls"] = tls("TLSv1.3", true, false, false, "self-signed certificate; name mismatch: wanted mx.example");
  o2["signals"]["starttls_offered"] = true;
  o2["events"] = json::array({{{"type", "auth-soft-fail"}, {"detail", "a"}}, {{"type", "auth-soft-fail"}, {"detail", "b"}}});
  o2["signals"]["mta_sts"] = nullptr;
  s.add(o2);
  // 3. authenticated by DANE-EE, usable secure TLSA, TLSv1.3, verified, REQUIRETLS.
  auto o3 = outcome("ok", "authenticated", "dane-ee");
  o3["trust"] = "Verified";
  o3["tls"] = tls("TLSv1.3", true, true, true, "");
  o3["signals"]["starttls_offered"] = true;
  o3["signals"]["requiretls"] = true;
  o3["signals"]["tlsa"] = {{"state", "secure"}, {"usable", true}, {"records", json::array()}};
  o3["policy"]["effective"] = "dane-only";
  o3["policy"]["source"] = "dane";
  o3["signals"]["tlsrpt"] = {{"state", "present"}, {"rua", {"mailto:r@example.org"}}, {"error", nullptr}};
  s.add(o3);
  // 4. DANE failure: usable TLSA, mismatch → fail, TLSv1.2 without PFS, expired chain.
  auto o4 = outcome("fail", "encrypted");
  o4["trust"] = "Untrusted";
  o4["tls"] = tls("TLSv1.2", false, false, true, "certificate has expired");
  o4["signals"]["starttls_offered"] = true;
  o4["signals"]["tlsa"] = {{"state", "secure"}, {"usable", true}};
  o4["failure"] = {{"result_type", "validation-failure"}, {"fault", "peer"}, {"detail", "x"}};
  o4["signals"]["tlsrpt"] = {{"state", "none"}, {"rua", json::array()}, {"error", "no TXT record"}};
  s.add(o4);
  // 5. STARTTLS offered but refused: cleartext; insecure TLSA; an MTA-STS policy in enforce mode.
  auto o5 = outcome("ok", "cleartext");
  o5["signals"]["starttls_offered"] = true;
  o5["signals"]["tlsa"] = {{"state", "insecure"}, {"usable", false}};
  o5["events"] = json::array({{{"type", "starttls-refused"}, {"detail", "454"}}});
  o5["signals"]["mta_sts"] = {{"mode", "enforce"}, {"error", nullptr}, {"error_type", nullptr}};
  s.add(o5);
  // 6. authenticated by MTA-STS; newer event type; MTA-STS testing policy with a fetch error.
  auto o6 = outcome("ok", "authenticated", "mta-sts");
  o6["tls"] = tls("TLSv1.3", true, true, true, "");
  o6["signals"]["starttls_offered"] = true;
  o6["signals"]["mta_sts"] = {{"mode", nullptr}, {"error_type", "sts-policy-fetch-error"}};
  o6["events"] = json::array({{{"type", "some-future-event"}, {"detail", ""}}});
  s.add(o6);
  // 7. defer on DNS: bogus TLSA; protocol that advertises nothing (starttls_offered null).
  auto o7 = outcome("defer", "cleartext");
  o7["signals"]["starttls_offered"] = nullptr;
  o7["signals"]["tlsa"] = {{"state", "bogus"}, {"usable", false}};
  o7["failure"] = {{"result_type", "dnssec-invalid"}, {"fault", "dns"}, {"detail", "y"}};
  s.add(o7);
  // 8. wrong types everywhere: counted as "unknown", never thrown on.
  s.add(json{{"verdict", 3}, {"protection", json::array()}, {"tls", "yes"}, {"signals", 7}, {"events", "none"}});
  // 9, 10. not objects.
  s.add(json::array());
  s.add_unreadable();
  return s;
}

TEST(Summary, HandCounts) {
  const Summary s = corpus();
  EXPECT_EQ(s.targets, 8u);
  EXPECT_EQ(s.unreadable, 2u);
  EXPECT_EQ(s.verdict["ok"], 5u);
  EXPECT_EQ(s.verdict["fail"], 1u);
  EXPECT_EQ(s.verdict["defer"], 1u);
  EXPECT_EQ(s.verdict["unknown"], 1u);
  EXPECT_EQ(s.protection["cleartext"], 3u);
  EXPECT_EQ(s.protection["encrypted"], 2u);
  EXPECT_EQ(s.protection["authenticated"], 2u);
  EXPECT_EQ(s.auth_method["none"], 5u);
  EXPECT_EQ(s.auth_method["dane-ee"], 1u);
  EXPECT_EQ(s.auth_method["mta-sts"], 1u);
  EXPECT_EQ(s.auth_method["pkix"], 0u);
  EXPECT_EQ(s.trust["none"], 5u);  // 1, 5, 6, 7 (null) and 8 (missing)
  EXPECT_EQ(s.trust["Untrusted"], 2u);
  EXPECT_EQ(s.trust["Verified"], 1u);
  EXPECT_EQ(s.effective["dane-only"], 1u);
  EXPECT_EQ(s.source["dane"], 1u);

  EXPECT_EQ(s.starttls.offered, 5u);                // 2, 3, 4, 5, 6
  EXPECT_EQ(s.starttls.not_offered, 1u);            // 1
  EXPECT_EQ(s.starttls.not_advertised, 2u);         // 7 (null), 8 (no signals object)
  EXPECT_EQ(s.starttls.offered_but_cleartext, 1u);  // 5

  EXPECT_EQ(s.tls.sessions, 4u);  // 2, 3, 4, 6 — 8's "yes" is no session
  EXPECT_EQ(s.tls.pfs, 3u);
  EXPECT_EQ(s.tls.versions["TLSv1.3"], 3u);
  EXPECT_EQ(s.tls.versions["TLSv1.2"], 1u);

  EXPECT_EQ(s.certificates.verified, 2u);
  EXPECT_EQ(s.certificates.chain_failed, 2u);
  EXPECT_EQ(s.certificates.name_failed, 1u);
  EXPECT_EQ(s.certificates.chain_errors["self-signed certificate"], 1u);
  EXPECT_EQ(s.certificates.chain_errors["certificate has expired"], 1u);

  EXPECT_EQ(s.dane.tlsa["no-dns"], 4u);  // 1, 2, 6, 8
  EXPECT_EQ(s.dane.tlsa["secure"], 2u);
  EXPECT_EQ(s.dane.tlsa["insecure"], 1u);
  EXPECT_EQ(s.dane.tlsa["bogus"], 1u);
  EXPECT_EQ(s.dane.usable, 2u);
  EXPECT_EQ(s.dane.authenticated, 1u);
  EXPECT_EQ(s.dane.failed, 1u);

  EXPECT_EQ(s.mta_sts.looked_up, 2u);  // 5, 6
  EXPECT_EQ(s.mta_sts.absent, 6u);     // missing or null
  EXPECT_EQ(s.mta_sts.mode["enforce"], 1u);
  EXPECT_EQ(s.mta_sts.mode["no-policy"], 1u);
  EXPECT_EQ(s.mta_sts.error_type["sts-policy-fetch-error"], 1u);
  EXPECT_EQ(s.mta_sts.authenticated, 1u);

  EXPECT_EQ(s.tlsrpt["present"], 1u);
  EXPECT_EQ(s.tlsrpt["none"], 1u);
  EXPECT_EQ(s.tlsrpt["not-reported"], 6u);  // missing (older builds, non-domain targets)

  EXPECT_EQ(s.requiretls, 1u);
  EXPECT_EQ(s.events["auth-soft-fail"], 1u);  // once per target
  EXPECT_EQ(s.events["starttls-refused"], 1u);
  EXPECT_EQ(s.events["some-future-event"], 1u);
  EXPECT_EQ(s.events["starttls-masked"], 0u);
  EXPECT_EQ(s.result_type["validation-failure"], 1u);
  EXPECT_EQ(s.result_type["dnssec-invalid"], 1u);
  EXPECT_EQ(s.fault["peer"], 1u);
  EXPECT_EQ(s.fault["dns"], 1u);
}

// Every name of the closed vocabularies shows, zeros included, in vocabulary order.
TEST(Summary, SeededVocabularies) {
  const Summary s;
  ASSERT_EQ(s.verdict.rows().size(), 3u);
  EXPECT_EQ(s.verdict.rows()[0].first, "ok");
  EXPECT_EQ(s.protection.rows().size(), 3u);
  EXPECT_EQ(s.auth_method.rows().size(), 7u);
  EXPECT_EQ(s.auth_method.rows()[1].first, "dane-ee");
  for (const char* type : {"fallback-to-cleartext", "response-injection", "starttls-masked", "starttls-refused",
                           "reset-after-starttls", "preauth-skips-starttls", "starttls-stripped",
                           "downgrade-suspected", "tofu-key-changed"}) {
    SCOPED_TRACE(type);
    const auto& rows = s.events.rows();
    EXPECT_TRUE(std::any_of(rows.begin(), rows.end(), [&](const auto& r) { return r.first == type; }));
  }
}

TEST(Summary, JsonAndText) {
  const Summary s = corpus();
  const auto j = to_json(s);
  EXPECT_EQ(j["targets"], 8);
  EXPECT_EQ(j["unreadable_lines"], 2);
  EXPECT_EQ(j["verdict"]["ok"], 5);
  EXPECT_EQ(j["protection"]["authenticated"], 2);
  EXPECT_EQ(j["starttls"]["offered_but_cleartext"], 1);
  EXPECT_EQ(j["tls"]["versions"]["TLSv1.3"], 3);
  EXPECT_EQ(j["tls"]["pfs"], 3);
  EXPECT_EQ(j["certificates"]["chain_errors"]["certificate has expired"], 1);
  EXPECT_EQ(j["dane"]["failed"], 1);
  EXPECT_EQ(j["mta_sts"]["absent"], 6);
  EXPECT_EQ(j["requiretls"], 1);
  EXPECT_EQ(j["tlsrpt"]["present"], 1);
  EXPECT_EQ(j["events"]["starttls-refused"], 1);
  EXPECT_EQ(j["failures"]["result_type"]["dnssec-invalid"], 1);
  // Vocabulary order is kept in the JSON object too.
  EXPECT_EQ(j["protection"].begin().key(), "cleartext");

  const auto text = to_text(s);
  for (const char* want : {"targets       8 (2 unreadable lines not counted)\n",
                           "verdict       ok 5 (62.5%) · fail 1 (12.5%) · defer 1 (12.5%) · unknown 1 (12.5%)\n",
                           "protection    cleartext 3 (37.5%) · encrypted 2 (25.0%) · authenticated 2 (25.0%)",
                           "offered but cleartext 1 (20.0% of offered)", "pfs 3 (75.0% of sessions)",
                           "requiretls    1 (12.5%)\n", "  starttls-refused", "certificate has expired 1 (25.0%)"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

// A file full of made-up names cannot grow the counts without bound.
TEST(Summary, DistinctNamesAreBounded) {
  Summary s;
  for (int i = 0; i < 1000; ++i) s.add(json{{"verdict", "v" + std::to_string(i)}});
  EXPECT_LE(s.verdict.rows().size(), limits::max_tally_names);
  EXPECT_EQ(s.targets, 1000u);
  std::uint64_t sum = 0;
  for (const auto& [n, count] : s.verdict.rows()) sum += count;
  EXPECT_EQ(sum, 1000u);
  EXPECT_GT(s.verdict["other"], 900u);
}

TEST(Summary, EmptyHasNoDivisionByZero) {
  const auto text = to_text(Summary{});
  EXPECT_NE(text.find("targets       0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ok 0 (-)"), std::string::npos) << text;
}

}  // namespace
}  // namespace ostls::scan
