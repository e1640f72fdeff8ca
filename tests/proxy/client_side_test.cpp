// What the application is told in `ostls proxy` client mode (proxy/client_side.hpp) and the
// metrics exposition (proxy/metrics.hpp).
#include <gtest/gtest.h>

#include "proxy/client_side.hpp"
#include "proxy/metrics.hpp"

namespace ostls::proxy {
namespace {

TEST(ProxyClientSide, ImapGreetingLosesThePreTlsCapabilities) {
  EXPECT_EQ(greeting_for_application(proto::Family::Imap, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready.\r\n"),
            "* OK ready.\r\n");
  EXPECT_EQ(greeting_for_application(proto::Family::Imap, "* OK [ALERT] hi\r\n"), "* OK [ALERT] hi\r\n");
  const std::string smtp = "220-mx.example.org ESMTP\r\n220 STARTTLS here too\r\n";
  EXPECT_EQ(greeting_for_application(proto::Family::Smtp, smtp), smtp);
}

TEST(ProxyClientSide, RefusalsInEachProtocolsWords) {
  Outcome o;
  o.verdict = Verdict::Fail;
  o.policy.effective = Level::DaneOnly;
  o.failure = Failure{.result_type = ResultType::ValidationFailure, .fault = Fault::Peer,
                      .detail = "no TLSA record matched\r\nRCPT TO:<injected>"};
  EXPECT_EQ(refusal(proto::Family::Smtp, o),
            "421 4.7.0 ostls: TLS policy \"dane-only\" not met (fail): no TLSA record matched  RCPT TO:<injected>\r\n");
  EXPECT_TRUE(refusal(proto::Family::Imap, o).starts_with("* BYE [UNAVAILABLE] ostls: "));
  EXPECT_TRUE(refusal(proto::Family::Pop3, o).starts_with("-ERR [SYS/TEMP] ostls: "));
  o.failure->detail = std::string(5000, 'x');
  EXPECT_LT(refusal(proto::Family::Smtp, o).size(), 520u);
}

TEST(ProxyMetrics, Exposition) {
  Metrics m;
  m.opened("out\"1", "client");
  m.outcome("out\"1", Verdict::Ok, Protection::Authenticated, AuthMethod::DaneEe,
            {{EventType::FallbackToCleartext, "x"}, {EventType::DowngradeSuspected, "y"}, {EventType::AuthSoftFail, "z"}});
  m.handshake("out\"1", 0.003);
  m.closed("out\"1");
  m.refused("in", "max_connections");
  const auto text = m.render();
  for (const char* line : {
           "ostls_proxy_sessions_total{listener=\"out\\\"1\",mode=\"client\"} 1\n",
           "ostls_proxy_outcomes_total{listener=\"out\\\"1\",verdict=\"ok\",protection=\"authenticated\",auth_method=\"dane-ee\"} 1\n",
           "ostls_proxy_fallbacks_total{listener=\"out\\\"1\"} 1\n",
           "ostls_proxy_downgrade_events_total{listener=\"out\\\"1\",type=\"downgrade-suspected\"} 1\n",
           "ostls_proxy_handshake_seconds_bucket{listener=\"out\\\"1\",le=\"0.0025\"} 0\n",
           "ostls_proxy_handshake_seconds_bucket{listener=\"out\\\"1\",le=\"0.005\"} 1\n",
           "ostls_proxy_handshake_seconds_bucket{listener=\"out\\\"1\",le=\"+Inf\"} 1\n",
           "ostls_proxy_handshake_seconds_count{listener=\"out\\\"1\"} 1\n",
           "ostls_proxy_open_connections{listener=\"out\\\"1\"} 0\n",
           "ostls_proxy_refused_total{listener=\"in\",reason=\"max_connections\"} 1\n",
           "# TYPE ostls_proxy_handshake_seconds histogram\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n--- in ---\n" << text;
  }
  EXPECT_EQ(text.find("auth-soft-fail"), std::string::npos);  // not a downgrade indicator
}

}  // namespace
}  // namespace ostls::proxy
