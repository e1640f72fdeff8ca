// IRC server role (IRCv3 "tls" extension: STARTTLS → 670 RPL_STARTTLS / 691 ERR_STARTTLS;
// IRCv3 CAP 302 multi-line LS; RFC 1459 §2.3.1 messages): the client speaks first, "tls" added
// to the last CAP LS line, STARTTLS answered locally, "tls" removed again under TLS.
#include <gtest/gtest.h>

#include "protocols/irc.hpp"
#include "protocols/server_steps.hpp"

namespace ostls::irc {
namespace {

using proto::Next;
using test::expect_action;

constexpr std::string_view starttls_ok = ":server 670 * :STARTTLS successful, proceed with TLS handshake\r\n";

Server started(proto::ServerParams params = {}) {
  Server s(std::move(params));
  EXPECT_EQ(s.start().next, Next::ReadClient);  // no greeting is guaranteed
  return s;
}

// ---- CAP LS (IRCv3 CAP 302) --------------------------------------------------------------------

TEST(IrcServer, CapLsGetsTls) {
  auto s = started();
  expect_action(s.on_client_line("CAP LS 302"), Next::ReadBackend, "", "CAP LS 302\r\n");
  expect_action(s.on_backend_line(":irc.example NOTICE * :*** Looking up your hostname..."), Next::ReadBackend,
                ":irc.example NOTICE * :*** Looking up your hostname...\r\n");
  expect_action(s.on_backend_line(":irc.example CAP * LS * :multi-prefix sasl=PLAIN"), Next::ReadBackend,
                ":irc.example CAP * LS * :multi-prefix sasl=PLAIN\r\n");
  expect_action(s.on_backend_line(":irc.example CAP * LS :away-notify"), Next::ReadClient,
                ":irc.example CAP * LS :away-notify tls\r\n");
  // The backend's name is used from now on.
  expect_action(s.on_client_line("STARTTLS"), Next::StartTls,
                ":irc.example 670 * :STARTTLS successful, proceed with TLS handshake\r\n");
}

TEST(IrcServer, CapLsAlreadyListingTlsIsNotExtended) {
  auto s = started();
  (void)s.on_client_line("cap ls");
  expect_action(s.on_backend_line(":irc.lab.test CAP * LS :inspircd.org/poison tls "), Next::ReadClient,
                ":irc.lab.test CAP * LS :inspircd.org/poison tls\r\n");
  (void)s.on_client_line("CAP LS");
  expect_action(s.on_backend_line(":s CAP * LS * :tls"), Next::ReadBackend, ":s CAP * LS * :tls\r\n");
  expect_action(s.on_backend_line(":s CAP * LS :sasl"), Next::ReadClient, ":s CAP * LS :sasl\r\n");
}

TEST(IrcServer, CapListAndReqAreRelayed) {
  auto s = started();
  expect_action(s.on_client_line("CAP REQ :multi-prefix"), Next::ReadBackend, "", "CAP REQ :multi-prefix\r\n");
  expect_action(s.on_backend_line(":s CAP * ACK :multi-prefix"), Next::ReadClient, ":s CAP * ACK :multi-prefix\r\n");
  expect_action(s.on_client_line("CAP LIST"), Next::ReadBackend, "", "CAP LIST\r\n");
  expect_action(s.on_backend_line(":s CAP * LIST :multi-prefix"), Next::ReadClient, ":s CAP * LIST :multi-prefix\r\n");
}

TEST(IrcServer, BackendWithoutCapAnswersWithANumeric) {
  for (std::string_view reply : {":old.example 421 * CAP :Unknown command", ":old.example 451 * :You have not registered"}) {
    SCOPED_TRACE(reply);
    auto s = started();
    (void)s.on_client_line("CAP LS 302");
    expect_action(s.on_backend_line(reply), Next::ReadClient, std::string(reply) + "\r\n");
  }
}

TEST(IrcServer, PingPongAreForwarded) {
  auto s = started();
  expect_action(s.on_client_line("PONG :12345"), Next::ReadClient, "", "PONG :12345\r\n");
  expect_action(s.on_client_line("PING :x"), Next::ReadClient, "", "PING :x\r\n");
  expect_action(s.on_client_line(""), Next::ReadClient, "");
  EXPECT_FALSE(s.facts().relayed_cleartext);
}

TEST(IrcServer, BackendErrorIsRelayed) {
  auto s = started();
  (void)s.on_client_line("CAP LS 302");
  expect_action(s.on_backend_line("ERROR :Closing link: (banned)"), Next::Relay, "ERROR :Closing link: (banned)\r\n");
}

// ---- STARTTLS (IRCv3 tls: 670 / 691) ---------------------------------------------------------

TEST(IrcServer, StarttlsIsAnsweredHere) {
  auto s = started();
  expect_action(s.on_client_line("STARTTLS"), Next::StartTls, std::string(starttls_ok));
  EXPECT_TRUE(s.facts().upgrade_requested);
  expect_action(s.on_tls_established(), Next::ReadClient, "");
  EXPECT_TRUE(s.facts().tls_established);
}

TEST(IrcServer, UnderTlsTlsIsNeitherListedNorAccepted) {
  auto s = started();
  (void)s.on_client_line("STARTTLS");
  (void)s.on_tls_established();
  expect_action(s.on_client_line("CAP LS 302"), Next::ReadBackend, "", "CAP LS 302\r\n");
  expect_action(s.on_backend_line(":s CAP * LS * :tls sasl"), Next::ReadBackend, ":s CAP * LS * :sasl\r\n");
  expect_action(s.on_backend_line(":s CAP * LS :multi-prefix tls"), Next::ReadClient, ":s CAP * LS :multi-prefix\r\n");
  expect_action(s.on_client_line("STARTTLS"), Next::ReadClient, ":s 691 * :STARTTLS failure: TLS is already active\r\n");
  expect_action(s.on_client_line("NICK alice"), Next::Relay, "", "NICK alice\r\n");
  EXPECT_FALSE(s.facts().relayed_cleartext);
}

TEST(IrcServer, PipelinedCommandBehindStarttlsIsNotRead) {
  // "STARTTLS\r\nNICK evil\r\n" in one write: the machine asks for the handshake on the first
  // line; the driver discards the rest (R10).
  auto s = started();
  expect_action(s.on_client_line("STARTTLS"), Next::StartTls, std::string(starttls_ok));
  expect_action(s.on_client_line("NICK evil"), Next::Fail, "");
}

// ---- cleartext continuation and require_tls --------------------------------------------------

TEST(IrcServer, RegistrationContinuesInCleartext) {
  for (std::string_view line : {"NICK alice", "USER a 0 * :A", "PASS secret", "CAP END"}) {
    SCOPED_TRACE(line);
    auto s = started();
    expect_action(s.on_client_line(line), Next::Relay, "", std::string(line) + "\r\n");
    EXPECT_TRUE(s.facts().relayed_cleartext);
  }
  auto q = started();
  expect_action(q.on_client_line("QUIT :bye"), Next::Relay, "", "QUIT :bye\r\n");
  EXPECT_FALSE(q.facts().relayed_cleartext);
}

TEST(IrcServer, RequireTlsClosesTheLinkOnRegistration) {
  auto s = started({.require_tls = true});
  expect_action(s.on_client_line("CAP LS 302"), Next::ReadBackend, "", "CAP LS 302\r\n");
  (void)s.on_backend_line(":s CAP * LS :sasl");
  expect_action(s.on_client_line("NICK alice"), Next::Close, "ERROR :Closing link: STARTTLS is required\r\n");
  EXPECT_FALSE(s.facts().relayed_cleartext);
  auto t = started({.require_tls = true});
  expect_action(t.on_client_line("STARTTLS"), Next::StartTls, std::string(starttls_ok));
}

// ---- hostile backends and wrong turns ---------------------------------------------------------

TEST(IrcServer, NoticeFloodIsBounded) {
  Limits limits;
  limits.max_reply_lines = 30;
  auto s = started({.limits = limits});
  (void)s.on_client_line("CAP LS 302");
  auto [n, a] = test::flood_backend(s, ":s NOTICE * :spam", ":s NOTICE * :spam");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->code, Errc::ReplyTooLong);
  EXPECT_EQ(a.error->fault, Fault::Peer);
  EXPECT_EQ(n, 31);
}

TEST(IrcServer, MalformedCapLinesDoNotBreakTheRewrite) {
  auto s = started();
  (void)s.on_client_line("CAP LS");
  // No trailing ':' — the list is the last middle parameter.
  expect_action(s.on_backend_line(":s CAP * LS sasl"), Next::ReadClient, ":s CAP * LS :sasl tls\r\n");
  (void)s.on_client_line("CAP LS");
  expect_action(s.on_backend_line(":s CAP * LS :"), Next::ReadClient, ":s CAP * LS :tls\r\n");
  (void)s.on_client_line("CAP LS");
  // Too short to be an answer: chatter, still waiting.
  expect_action(s.on_backend_line("CAP *"), Next::ReadBackend, "CAP *\r\n");
}

TEST(IrcServer, LinesOutOfTurnFailLocally) {
  auto s = started();
  auto a = s.on_backend_line(":s NOTICE * :unasked");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->fault, Fault::Local);
  (void)s.on_client_line("CAP LS");
  a = s.on_client_line("NICK early");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->fault, Fault::Local);
}

}  // namespace
}  // namespace ostls::irc
