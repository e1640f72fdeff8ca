// LDAP StartTLS (RFC 4511 §4.14, §4.4.1 notice of disconnection; BER per X.690 §8.1) and the
// PostgreSQL SSLRequest: exact request bytes, response parsing, bounds, and R10 leftovers.
#include <gtest/gtest.h>

#include "protocols/client.hpp"
#include "protocols/ldap.hpp"
#include "protocols/postgres.hpp"

namespace ostls {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string out;
  for (int c : b) out += static_cast<char>(c);
  return out;
}

// ExtendedResponse { resultCode, matchedDN "", diagnosticMessage diag [, responseName] }.
std::string extended_response(int id, int code, std::string diag = "", std::string name = "") {
  std::string inner = bytes({0x0a, 0x01, code}) + bytes({0x04, 0x00}) + bytes({0x04, static_cast<int>(diag.size())}) + diag;
  if (!name.empty()) inner += bytes({0x8a, static_cast<int>(name.size())}) + name;
  std::string op = bytes({0x78, static_cast<int>(inner.size())}) + inner;
  std::string body = bytes({0x02, 0x01, id}) + op;
  return bytes({0x30, static_cast<int>(body.size())}) + body;
}

TEST(Ldap, StartTlsRequestBytes) {
  // 30 1d 02 01 01 77 18 80 16 "1.3.6.1.4.1.1466.20037"
  EXPECT_EQ(ldap::starttls_request(1), bytes({0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16}) +
                                           "1.3.6.1.4.1.1466.20037");
  EXPECT_EQ(ldap::unbind_request(2), bytes({0x30, 0x05, 0x02, 0x01, 0x02, 0x42, 0x00}));
}

TEST(Ldap, ParsesResponses) {
  auto ok = ldap::parse_extended_response(extended_response(1, 0, "", std::string(ldap::starttls_oid)));
  ASSERT_TRUE(ok) << ok.error().detail;
  EXPECT_EQ(ok->message_id, 1);
  EXPECT_EQ(ok->result_code, 0);
  EXPECT_EQ(ok->response_name, ldap::starttls_oid);
  auto refused = ldap::parse_extended_response(extended_response(1, 52, "unavailable"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->result_code, 52);
  EXPECT_EQ(refused->diagnostic, "unavailable");
}

TEST(Ldap, BerBounds) {
  struct Row {
    const char* label;
    std::string buf;
    bool ok;
  };
  const Row rows[] = {
      {"indefinite length", bytes({0x30, 0x80}), false},
      {"five length octets", bytes({0x30, 0x85, 1, 0, 0, 0, 0}), false},
      {"over the limit", bytes({0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}), false},
      {"incomplete header", bytes({0x30}), true},
      {"long form", bytes({0x30, 0x81, 0x10}), true},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    EXPECT_EQ(ldap::element_size(r.buf, 65536).has_value(), r.ok);
  }
  EXPECT_EQ(**ldap::element_size(bytes({0x30, 0x81, 0x10}), 65536), 19u);
  for (const auto& bad : {bytes({0x30, 0x03, 0x02, 0x01, 0x01}), bytes({0x31, 0x00}), bytes({0x30, 0x05, 0x02, 0x01})}) {
    EXPECT_FALSE(ldap::parse_extended_response(bad));
  }
}

TEST(Ldap, Dialogue) {
  ldap::Client c({});
  auto s = c.start();
  ASSERT_TRUE(std::holds_alternative<proto::Send>(s));
  EXPECT_EQ(std::get<proto::Send>(s).then_read_bytes, 2u);
  const auto resp = extended_response(1, 0);
  s = c.on_bytes(resp.substr(0, 2));
  ASSERT_TRUE(std::holds_alternative<proto::ReadBytes>(s));
  EXPECT_EQ(std::get<proto::ReadBytes>(s).max, resp.size() - 2) << "asks for exactly the rest: no over-read";
  s = c.on_bytes(resp.substr(2));
  EXPECT_TRUE(std::holds_alternative<proto::StartTls>(s));
  EXPECT_FALSE(c.facts().starttls_offered.has_value()) << "LDAP advertises nothing";
  EXPECT_TRUE(std::holds_alternative<proto::Close>(c.on_tls_established()));
}

TEST(Ldap, RefusalAndDisconnection) {
  ldap::Client refused({});
  (void)refused.start();
  auto s = refused.on_bytes(extended_response(1, 2, "protocol error"));
  ASSERT_TRUE(std::holds_alternative<proto::Close>(s));
  EXPECT_EQ(refused.facts().refusal.value_or(""), "resultCode 2: protocol error");
  ldap::Client dropped({});
  (void)dropped.start();
  s = dropped.on_bytes(extended_response(0, 52, "bye", std::string(ldap::notice_of_disconnection_oid)));
  ASSERT_TRUE(std::holds_alternative<proto::Fail>(s));
  EXPECT_EQ(std::get<proto::Fail>(s).error.code, Errc::Closed);
}

TEST(Postgres, SslRequest) {
  EXPECT_EQ(postgres::ssl_request(), bytes({0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}));
  postgres::Client s({});
  auto step = s.start();
  ASSERT_TRUE(std::holds_alternative<proto::Send>(step));
  EXPECT_EQ(std::get<proto::Send>(step).then_read_bytes, 1u) << "one byte, so injected bytes stay buffered (R10)";
  EXPECT_TRUE(std::holds_alternative<proto::StartTls>(s.on_bytes("S")));
  postgres::Client n({});
  (void)n.start();
  EXPECT_TRUE(std::holds_alternative<proto::Close>(n.on_bytes("N")));
  EXPECT_TRUE(n.facts().refusal.has_value());
  postgres::Client x({});
  (void)x.start();
  EXPECT_TRUE(std::holds_alternative<proto::Fail>(x.on_bytes("H")));
}

TEST(AnyClient, WrongKindOfInputFailsClosed) {
  proto::AnyClient pg(proto::Family::Postgres, {});
  EXPECT_TRUE(std::holds_alternative<proto::Fail>(pg.on_line("S")));
  proto::AnyClient imap(proto::Family::Imap, {});
  EXPECT_TRUE(std::holds_alternative<proto::Fail>(imap.on_bytes("* OK")));
}

}  // namespace
}  // namespace ostls
