// PostgreSQL server role (protocol "SSL Session Encryption", "GSSAPI Session Encryption",
// "Message Formats": SSLRequest, GSSENCRequest, StartupMessage, CancelRequest, ErrorResponse):
// the 8-byte preamble fed as the driver feeds it (never more than asked for, so bytes pipelined
// behind the SSLRequest stay with the driver for R10), 'S'/'N' answers, cleartext relay,
// require_tls, hostile input and out-of-turn calls.
#include <gtest/gtest.h>

#include "protocols/any_server.hpp"
#include "protocols/postgres.hpp"
#include "protocols/server_steps.hpp"

namespace ostls::postgres {
namespace {

using proto::Action;
using proto::Next;
using test::expect_action;

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 8) & 0xff),
          static_cast<char>(v & 0xff)};
}
std::string gssenc_request() { return be32(8) + be32(gssenc_request_code); }
// StartupMessage, protocol 3.0: user and database parameters.
std::string startup(const std::string& user, const std::string& db) {
  std::string body = be32(196608) + "user" + '\0' + user + '\0' + "database" + '\0' + db + '\0' + '\0';
  return be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
}
std::string cancel_request() { return be32(16) + be32(80877102) + be32(4242) + be32(0xdeadbeef); }

using Feed = test::ClientBytes;

// ---- what the server sends ----------------------------------------------------------------

TEST(PostgresServerMessages, ErrorResponseBytes) {
  const auto e = error_response("28000", "no");
  // 'E', Int32 length (itself included), then S FATAL\0 V FATAL\0 C 28000\0 M no\0 and a final \0.
  const std::string fields = std::string("SFATAL\0VFATAL\0C28000\0Mno\0\0", 26);
  EXPECT_EQ(e, "E" + be32(4 + 26) + fields);
}

TEST(PostgresServerMessages, Preamble) {
  auto p = preamble(ssl_request());
  EXPECT_EQ(p.length, 8u);
  EXPECT_EQ(p.code, ssl_request_code);
  p = preamble(startup("postgres", "postgres").substr(0, 8));
  EXPECT_EQ(p.code, 196608u);  // 3.0
}

// ---- the SSL negotiation ------------------------------------------------------------------------

TEST(PostgresServer, SslRequestIsAnsweredHere) {
  Server s({});
  auto a = s.start();
  EXPECT_EQ(a.next, Next::ReadClient);
  EXPECT_EQ(a.read_bytes, 8u) << "no greeting: the client speaks first";
  expect_action(s.on_client_bytes(ssl_request()), Next::StartTls, "S");
  EXPECT_TRUE(s.facts().upgrade_requested);
  expect_action(s.on_tls_established(), Next::Relay, "");
  EXPECT_TRUE(s.facts().tls_established);
  EXPECT_FALSE(s.facts().relayed_cleartext);
}

TEST(PostgresServer, SslRequestInSmallReads) {
  for (std::size_t chunk : {1u, 3u, 5u}) {
    SCOPED_TRACE(chunk);
    Server s({});
    Feed f{ssl_request(), chunk};
    expect_action(f.run(s, s.start()), Next::StartTls, "S");
  }
  Server s({});
  (void)s.start();
  EXPECT_EQ(s.on_client_bytes(ssl_request().substr(0, 3)).read_bytes, 5u) << "exactly the rest";
}

TEST(PostgresServer, PipelinedStartupMessageStaysWithTheDriver) {
  // R10 (CVE-2021-23214 class): the StartupMessage behind the SSLRequest in the same write is
  // never handed to the machine; the driver records command-injection and discards it.
  Server s({});
  Feed f{ssl_request() + startup("postgres", "template1")};
  expect_action(f.run(s, s.start()), Next::StartTls, "S");
  EXPECT_EQ(f.pending, startup("postgres", "template1"));
}

TEST(PostgresServer, MoreBytesThanAskedForFailClosed) {
  Server s({});
  (void)s.start();
  auto a = s.on_client_bytes(ssl_request() + startup("postgres", "postgres"));
  expect_action(a, Next::Fail, "");
  EXPECT_EQ(a.error->fault, Fault::Local);
  EXPECT_FALSE(s.facts().upgrade_requested);
  Server half({});
  (void)half.start();
  (void)half.on_client_bytes(ssl_request().substr(0, 6));
  expect_action(half.on_client_bytes(ssl_request().substr(0, 3)), Next::Fail, "");
  Server e({});
  (void)e.start();
  expect_action(e.on_client_bytes(""), Next::Fail, "");
}

TEST(PostgresServer, GssEncIsRefusedThenSsl) {
  Server s({});
  Feed f{gssenc_request() + ssl_request()};
  auto a = f.run(s, s.start());
  expect_action(a, Next::ReadClient, "N");
  EXPECT_EQ(a.read_bytes, 8u);
  expect_action(f.run(s, a), Next::StartTls, "S");
  // A second GSSENCRequest is not answered here: the backend judges it (as PostgreSQL would refuse
  // a repeated negotiation).
  Server twice({});
  Feed g{gssenc_request() + gssenc_request()};
  a = g.run(twice, twice.start());
  expect_action(a, Next::ReadClient, "N");
  expect_action(g.run(twice, a), Next::Relay, "", gssenc_request());
  // GSSENC refused, then a StartupMessage in cleartext.
  Server plain({});
  Feed h{gssenc_request() + startup("postgres", "postgres")};
  a = h.run(plain, plain.start());
  expect_action(h.run(plain, a), Next::Relay, "", startup("postgres", "postgres").substr(0, 8));
}

// ---- anything else ------------------------------------------------------------------------------

TEST(PostgresServer, OtherFirstMessagesContinueInCleartext) {
  struct Row {
    const char* label;
    std::string in;
  };
  const Row rows[] = {
      {"StartupMessage 3.0", startup("postgres", "postgres")},
      {"CancelRequest", cancel_request()},
      {"SSLRequest code with a wrong length", be32(12) + be32(ssl_request_code) + be32(0)},
      {"a TLS ClientHello (direct TLS is not ours)", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)},
      {"HTTP", "GET / HTTP/1.1\r\n\r\n"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    Server s({});
    Feed f{r.in};
    // The first 8 bytes are forwarded; the rest is still in the driver's buffer and the relay
    // sends it after them.
    expect_action(f.run(s, s.start()), Next::Relay, "", r.in.substr(0, 8));
    EXPECT_EQ(f.pending, r.in.substr(8));
    EXPECT_TRUE(s.facts().relayed_cleartext);
    EXPECT_FALSE(s.facts().upgrade_requested);
  }
}

TEST(PostgresServer, RequireTlsAnswersErrorResponseAndCloses) {
  for (const auto& in : {startup("postgres", "postgres"), cancel_request(), std::string("GET / HTTP/1.1\r\n\r\n")}) {
    Server s({.require_tls = true});
    Feed f{in};
    expect_action(f.run(s, s.start()), Next::Close, error_response("28000", "TLS required: send an SSLRequest first"));
    EXPECT_FALSE(s.facts().relayed_cleartext);
  }
  Server ok({.require_tls = true});
  Feed g{gssenc_request() + ssl_request()};
  auto a = g.run(ok, ok.start());
  expect_action(a, Next::ReadClient, "N");
  expect_action(g.run(ok, a), Next::StartTls, "S");
}

// ---- out of turn ----------------------------------------------------------------------------------

TEST(PostgresServer, OutOfTurnCallsFailClosed) {
  Server s({});
  auto a = s.on_backend_bytes("R\0\0\0\x08\0\0\0\0");  // no greeting: the backend is never read
  expect_action(a, Next::Fail, "");
  EXPECT_EQ(a.error->fault, Fault::Local);
  Server early({});
  (void)early.start();
  expect_action(early.on_tls_established(), Next::Fail, "");
  Server done({});
  (void)done.start();
  (void)done.on_client_bytes(ssl_request());
  expect_action(done.on_client_bytes("Q"), Next::Fail, "");
  expect_action(done.on_backend_bytes("N"), Next::Fail, "");
  expect_action(done.on_tls_established(), Next::Relay, "");
  expect_action(done.on_tls_established(), Next::Fail, "");
}

TEST(PostgresServer, AnyServerRoutesBytesNotLines) {
  auto s = proto::AnyServer::make(proto::Family::Postgres, {});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->start().read_bytes, 8u);
  EXPECT_EQ(s->on_client_line("hello").next, Next::Fail);
  expect_action(s->on_client_bytes(ssl_request()), Next::StartTls, "S");
}

}  // namespace
}  // namespace ostls::postgres
