// NNTP server role (RFC 4642 §2.2 STARTTLS, RFC 3977 §5.2 CAPABILITIES, §5.3 MODE READER,
// §3.2.1 483): STARTTLS added to CAPABILITIES, answered 382 locally, removed again under TLS.
#include <gtest/gtest.h>

#include "protocols/nntp.hpp"
#include "protocols/server_steps.hpp"

namespace ostls::nntp {
namespace {

using proto::Next;
using test::expect_action;

Server greeted(proto::ServerParams params = {}) {
  Server s(std::move(params));
  EXPECT_EQ(s.start().next, Next::ReadBackend);
  expect_action(s.on_backend_line("201 news.example ready (no posting)"), Next::ReadClient,
                "201 news.example ready (no posting)\r\n");
  return s;
}

// Sends CAPABILITIES and feeds `lines` (101, the list, "."); returns what the client got.
std::string capabilities(Server& s, std::initializer_list<std::string_view> lines) {
  std::string got;
  expect_action(s.on_client_line("CAPABILITIES"), Next::ReadBackend, "", "CAPABILITIES\r\n");
  for (auto l : lines) got += s.on_backend_line(l).to_client;
  return got;
}

// ---- greeting and capabilities -----------------------------------------------------------------

TEST(NntpServer, CapabilitiesGetStarttls) {
  auto s = greeted();
  EXPECT_EQ(capabilities(s, {"101 Capability list:", "VERSION 2", "READER", "."}),
            "101 Capability list:\r\nVERSION 2\r\nREADER\r\nSTARTTLS\r\n.\r\n");
  auto t = greeted();
  // A backend listing STARTTLS itself (INN built with TLS but unable to do it): listed once.
  EXPECT_EQ(capabilities(t, {"101 Capability list:", "VERSION 2", "starttls", "."}),
            "101 Capability list:\r\nVERSION 2\r\nstarttls\r\n.\r\n");
}

TEST(NntpServer, BackendWithoutCapabilitiesGetsOurs) {
  auto s = greeted();
  expect_action(s.on_client_line("capabilities"), Next::ReadBackend, "", "capabilities\r\n");
  expect_action(s.on_backend_line("500 What?"), Next::ReadClient, "101 Capability list:\r\nVERSION 2\r\nSTARTTLS\r\n.\r\n");
}

TEST(NntpServer, ModeReaderIsRelayed) {
  auto s = greeted();
  expect_action(s.on_client_line("MODE READER"), Next::ReadBackend, "", "MODE READER\r\n");
  expect_action(s.on_backend_line("200 Posting allowed"), Next::ReadClient, "200 Posting allowed\r\n");
  expect_action(s.on_client_line("mode reader"), Next::ReadBackend, "", "mode reader\r\n");
  expect_action(s.on_backend_line("502 Reading service permanently unavailable"), Next::Relay,
                "502 Reading service permanently unavailable\r\n");
}

TEST(NntpServer, RefusingGreetingIsRelayed) {
  for (std::string_view line : {"400 Service temporarily unavailable", "502 Service permanently unavailable", "hello"}) {
    SCOPED_TRACE(line);
    Server s({});
    (void)s.start();
    expect_action(s.on_backend_line(line), Next::Relay, std::string(line) + "\r\n");
  }
}

// ---- STARTTLS (RFC 4642 §2.2) --------------------------------------------------------------

TEST(NntpServer, StarttlsIsAnsweredHere) {
  auto s = greeted();
  expect_action(s.on_client_line("StartTLS"), Next::StartTls, "382 Continue with TLS negotiation\r\n");
  EXPECT_TRUE(s.facts().upgrade_requested);
  expect_action(s.on_tls_established(), Next::ReadClient, "");
  EXPECT_TRUE(s.facts().tls_established);
}

TEST(NntpServer, UnderTlsStarttlsIsNeitherListedNorAccepted) {
  auto s = greeted();
  (void)s.on_client_line("STARTTLS");
  (void)s.on_tls_established();
  EXPECT_EQ(capabilities(s, {"101 Capability list:", "VERSION 2", "STARTTLS", "READER", "."}),
            "101 Capability list:\r\nVERSION 2\r\nREADER\r\n.\r\n");
  expect_action(s.on_client_line("STARTTLS"), Next::ReadClient, "502 Already using TLS\r\n");
  expect_action(s.on_client_line("MODE READER"), Next::ReadBackend, "", "MODE READER\r\n");
  expect_action(s.on_backend_line("201 ready"), Next::ReadClient, "201 ready\r\n");
  expect_action(s.on_client_line("GROUP lab.test"), Next::Relay, "", "GROUP lab.test\r\n");
  EXPECT_FALSE(s.facts().relayed_cleartext);
}

TEST(NntpServer, UnderTlsAnErrorForCapabilitiesIsRelayed) {
  auto s = greeted();
  (void)s.on_client_line("STARTTLS");
  (void)s.on_tls_established();
  expect_action(s.on_client_line("CAPABILITIES"), Next::ReadBackend, "", "CAPABILITIES\r\n");
  expect_action(s.on_backend_line("500 What?"), Next::ReadClient, "500 What?\r\n");
}

TEST(NntpServer, PipelinedCommandBehindStarttlsIsNotRead) {
  // "STARTTLS\r\nGROUP lab.test\r\n" in one write: the machine asks for the handshake on the
  // first line; the driver discards the rest (R10).
  auto s = greeted();
  expect_action(s.on_client_line("STARTTLS"), Next::StartTls, "382 Continue with TLS negotiation\r\n");
  expect_action(s.on_client_line("GROUP lab.test"), Next::Fail, "");
}

TEST(NntpServer, StarttlsWithArgumentsIsASyntaxError) {
  auto s = greeted();
  expect_action(s.on_client_line("STARTTLS now"), Next::ReadClient, "501 Syntax error\r\n");
  EXPECT_FALSE(s.facts().upgrade_requested);
}

// ---- cleartext continuation and require_tls (RFC 3977 §3.2.1: 483) ---------------------------

TEST(NntpServer, OtherCommandsContinueInCleartextOrAreRefused) {
  auto s = greeted();
  expect_action(s.on_client_line("GROUP lab.test"), Next::Relay, "", "GROUP lab.test\r\n");
  EXPECT_TRUE(s.facts().relayed_cleartext);
  auto strict = greeted({.require_tls = true});
  expect_action(strict.on_client_line("GROUP lab.test"), Next::ReadClient,
                "483 Encryption required: use STARTTLS first\r\n");
  expect_action(strict.on_client_line("AUTHINFO USER alice"), Next::ReadClient,
                "483 Encryption required: use STARTTLS first\r\n");
  expect_action(strict.on_client_line("STARTTLS"), Next::StartTls, "382 Continue with TLS negotiation\r\n");
  EXPECT_FALSE(strict.facts().relayed_cleartext);
}

TEST(NntpServer, QuitIsRelayed) {
  auto s = greeted();
  expect_action(s.on_client_line("QUIT"), Next::Relay, "", "QUIT\r\n");
  EXPECT_FALSE(s.facts().relayed_cleartext);
}

// ---- hostile backends and wrong turns ---------------------------------------------------------

TEST(NntpServer, EndlessCapabilitiesAreBounded) {
  Limits limits;
  limits.max_reply_lines = 10;
  auto s = greeted({.limits = limits});
  (void)s.on_client_line("CAPABILITIES");
  (void)s.on_backend_line("101 list");
  auto [n, a] = test::flood_backend(s, "X", "X");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->code, Errc::ReplyTooLong);
  EXPECT_EQ(a.error->fault, Fault::Peer);
  EXPECT_EQ(n, 11);
}

TEST(NntpServer, OversizedCapabilitiesAreBounded) {
  Limits limits;
  limits.max_reply_bytes = 100;
  auto s = greeted({.limits = limits});
  (void)s.on_client_line("CAPABILITIES");
  (void)s.on_backend_line("101 list");
  const std::string big(80, 'X');
  expect_action(s.on_backend_line(big), Next::ReadBackend, big + "\r\n");
  const auto a = s.on_backend_line(big);
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->code, Errc::ReplyTooLong);
}

TEST(NntpServer, GarbageCapabilitiesReplyFails) {
  auto s = greeted();
  (void)s.on_client_line("CAPABILITIES");
  const auto a = s.on_backend_line("what is this");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->fault, Fault::Peer);
}

TEST(NntpServer, LinesOutOfTurnFailLocally) {
  Server s({});
  (void)s.start();
  auto a = s.on_client_line("CAPABILITIES");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->fault, Fault::Local);
  auto g = greeted();
  a = g.on_backend_line("205 bye");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->fault, Fault::Local);
}

}  // namespace
}  // namespace ostls::nntp
