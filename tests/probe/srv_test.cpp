// --srv targets: which schemes have an SRV service defined by an RFC (RFC 6186 §3, RFC 8314
// §5.1, RFC 6120 §3.2.1) and the owner name asked; usage errors for the rest.
#include <gtest/gtest.h>

#include "probe/srv.hpp"

namespace ostls::probe {
namespace {

struct Row {
  std::string_view text;
  std::string_view owner;  // empty: a usage error
};
const Row rows[] = {
    {"imap://Example.ORG", "_imap._tcp.example.org"},              // RFC 6186 §3.2
    {"imaps://example.org", "_imaps._tcp.example.org"},            // RFC 6186 §3.2
    {"pop3://example.org", "_pop3._tcp.example.org"},              // RFC 6186 §3.3
    {"pop3s://example.org", "_pop3s._tcp.example.org"},            // RFC 6186 §3.3
    {"submission://example.org", "_submission._tcp.example.org"},  // RFC 6186 §3.1
    {"smtps://example.org", "_submissions._tcp.example.org"},      // RFC 8314 §5.1
    {"xmpp://example.org", "_xmpp-client._tcp.example.org"},       // RFC 6120 §3.2.1
    {"xmpp-server://example.org", "_xmpp-server._tcp.example.org"},
    {"imap://example.org:9143", "_imap._tcp.example.org"},  // the port only serves the no-SRV fallback
    {"imap://example.org.", "_imap._tcp.example.org"},
    // negative rows
    {"xmpps://example.org", ""},  // _xmpps-client is XEP-0368, not an RFC
    {"smtp://example.org", ""},   // SMTP relay uses MX
    {"lmtp://example.org", ""},
    {"sieve://example.org", ""},
    {"ldap://example.org", ""},
    {"imap://[imap.example.org]", ""},  // brackets: one host, no SRV
    {"imap://[127.0.0.1]:143", ""},
};

TEST(Srv, OwnerNames) {
  for (const auto& r : rows) {
    SCOPED_TRACE(r.text);
    auto t = parse_target(r.text);
    ASSERT_TRUE(t) << t.error().detail;
    auto owner = srv_owner(*t);
    if (r.owner.empty()) {
      ASSERT_FALSE(owner);
      EXPECT_EQ(owner.error().code, Errc::Usage);
      EXPECT_EQ(owner.error().fault, Fault::Config);
      EXPECT_NE(owner.error().detail.find("--srv"), std::string::npos);
    } else {
      ASSERT_TRUE(owner) << owner.error().detail;
      EXPECT_EQ(*owner, r.owner);
    }
  }
}

TEST(Srv, EveryServiceNamesARegisteredScheme) {
  int with_service = 0;
  for (const auto& p : proto::protocols()) {
    if (const auto s = srv_service(p)) {
      ++with_service;
      EXPECT_EQ(s->substr(0, 1), "_");
      EXPECT_EQ(s->substr(s->size() - 5), "._tcp");
    }
  }
  EXPECT_EQ(with_service, 8);
}

}  // namespace
}  // namespace ostls::probe
