// SPEC §2 target syntax: PROTO://host[:port], brackets = one host (Postfix), IPv6 in brackets.
#include <gtest/gtest.h>

#include "probe/target.hpp"

namespace ostls::probe {
namespace {

struct Row {
  std::string_view text;
  bool ok;
  std::string_view protocol = "", host = "";
  std::uint16_t port = 0;
  bool bracketed = false, ip = false, implicit = false;
};
const Row rows[] = {
    {"smtp://example.org", true, "smtp", "example.org", 25},
    {"smtp://[mx.example.org]", true, "smtp", "mx.example.org", 25, true},
    {"smtp://[mx.example.org]:2525", true, "smtp", "mx.example.org", 2525, true},
    {"smtp://example.org:2525", true, "smtp", "example.org", 2525},
    {"smtp://[127.0.0.1]:25603", true, "smtp", "127.0.0.1", 25603, true, true},
    {"smtp://[::1]:25", true, "smtp", "::1", 25, true, true},
    {"smtp://[ipv6:2001:db8::1]", true, "smtp", "2001:db8::1", 25, true, true},
    {"submission://[mx.example.org]", true, "submission", "mx.example.org", 587, true},
    {"lmtp://[127.0.0.1]", true, "lmtp", "127.0.0.1", 24, true, true},
    {"smtps://mail.example.org", true, "smtps", "mail.example.org", 465, false, false, true},
    {"smtp://example.org/", true, "smtp", "example.org", 25},
    {"example.org", false},
    {"gopher://example.org", false},
    {"smtp://[mx.example.org", false},
    {"smtp://[mx.example.org]x", false},
    {"smtp://example.org:0", false},
    {"smtp://example.org:65536", false},
    {"smtp://example.org:", false},
    {"smtp://example.org:25x", false},
    {"smtp://", false},
    {"smtp://bad host", false},
    {"smtp://::1", false},
};

TEST(Target, Parse) {
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.text));
    auto t = parse_target(r.text);
    ASSERT_EQ(t.has_value(), r.ok) << (t ? "" : t.error().detail);
    if (!r.ok) {
      EXPECT_EQ(t.error().code, Errc::Usage);
      continue;
    }
    EXPECT_EQ(t->protocol.canonical, r.protocol);
    EXPECT_EQ(t->host, r.host);
    EXPECT_EQ(t->port, r.port);
    EXPECT_EQ(t->bracketed, r.bracketed);
    EXPECT_EQ(t->is_ip_literal, r.ip);
    EXPECT_EQ(t->protocol.implicit_tls, r.implicit);
    EXPECT_EQ(t->text, r.text);
  }
}

TEST(Target, DefaultSchemeAndTlsMode) {
  auto bare = parse_target("[127.0.0.1]:2143", "imap");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->protocol.canonical, "imap");
  EXPECT_EQ(bare->port, 2143);
  EXPECT_EQ(bare->text, "[127.0.0.1]:2143");
  EXPECT_FALSE(parse_target("[127.0.0.1]:2143")) << "no scheme and no --protocol";

  auto implicit = with_tls_mode(*bare, TlsMode::Implicit);
  ASSERT_TRUE(implicit);
  EXPECT_EQ(implicit->protocol.canonical, "imaps");
  EXPECT_EQ(implicit->port, 2143) << "a written port stays";
  auto defaulted = with_tls_mode(*parse_target("imap://mail.example.org"), TlsMode::Implicit);
  ASSERT_TRUE(defaulted);
  EXPECT_EQ(defaulted->port, 993) << "no written port: the implicit variant's default";
  auto back = with_tls_mode(*parse_target("smtps://[::1]"), TlsMode::Starttls);
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->protocol.implicit_tls);
  EXPECT_FALSE(with_tls_mode(*parse_target("postgres://[::1]"), TlsMode::Implicit)) << "no implicit PostgreSQL";
  EXPECT_FALSE(with_tls_mode(*parse_target("sieve://[::1]"), TlsMode::Implicit));
}

}  // namespace
}  // namespace ostls::probe
