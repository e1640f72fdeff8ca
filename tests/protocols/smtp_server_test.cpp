// SMTP server role: relay in front of a plaintext backend, STARTTLS answered locally.
#include <gtest/gtest.h>

#include "protocols/server_steps.hpp"
#include "protocols/smtp.hpp"

namespace ostls::smtp {
namespace {

using proto::Next;
using test::expect_action;

Server greeted(ServerParams params = {}) {
  Server s(std::move(params));
  EXPECT_EQ(s.start().next, Next::ReadBackend);
  expect_action(s.on_backend_line("220 mx.example ESMTP"), Next::ReadClient, "220 mx.example ESMTP\r\n");
  return s;
}

TEST(SmtpServer, EhloReplyGetsStarttlsAddedOnce) {
  auto s = greeted();
  expect_action(s.on_client_line("EHLO client.example"), Next::ReadBackend, "", "EHLO client.example\r\n");
  expect_action(s.on_backend_line("250-mx.example"), Next::ReadBackend, "");
  expect_action(s.on_backend_line("250-PIPELINING"), Next::ReadBackend, "");
  expect_action(s.on_backend_line("250 8BITMIME"), Next::ReadClient,
                "250-mx.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 STARTTLS\r\n");
  // A backend that lists STARTTLS itself is not given a second one.
  expect_action(s.on_client_line("EHLO again"), Next::ReadBackend, "", "EHLO again\r\n");
  expect_action(s.on_backend_line("250-mx.example"), Next::ReadBackend, "");
  expect_action(s.on_backend_line("250 STARTTLS"), Next::ReadClient, "250-mx.example\r\n250 STARTTLS\r\n");
}

TEST(SmtpServer, SingleLineEhloReplyBecomesMultiLine) {
  auto s = greeted();
  (void)s.on_client_line("EHLO c");
  expect_action(s.on_backend_line("250 mx.example"), Next::ReadClient, "250-mx.example\r\n250 STARTTLS\r\n");
}

TEST(SmtpServer, HeloAndNoopAreRelayedUnchanged) {
  auto s = greeted();
  expect_action(s.on_client_line("HELO c"), Next::ReadBackend, "", "HELO c\r\n");
  expect_action(s.on_backend_line("250 mx.example"), Next::ReadClient, "250 mx.example\r\n");
  expect_action(s.on_client_line("noop"), Next::ReadBackend, "", "noop\r\n");
  expect_action(s.on_backend_line("250 2.0.0 Ok"), Next::ReadClient, "250 2.0.0 Ok\r\n");
}

TEST(SmtpServer, StarttlsIsAnsweredHereThenRelay) {
  auto s = greeted();
  expect_action(s.on_client_line("STARTTLS"), Next::StartTls, "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_TRUE(s.facts().upgrade_requested);
  expect_action(s.on_tls_established(), Next::Relay, "");
  EXPECT_TRUE(s.facts().tls_established);
  EXPECT_FALSE(s.facts().relayed_cleartext);
}

TEST(SmtpServer, StarttlsWithArgumentsIsASyntaxError) {
  auto s = greeted();
  expect_action(s.on_client_line("STARTTLS now"), Next::ReadClient, "501 5.5.4 Syntax: STARTTLS\r\n");
  EXPECT_FALSE(s.facts().upgrade_requested);
}

TEST(SmtpServer, OtherCommandContinuesInCleartext) {
  auto s = greeted();
  expect_action(s.on_client_line("MAIL FROM:<a@b>"), Next::Relay, "", "MAIL FROM:<a@b>\r\n");
  EXPECT_TRUE(s.facts().relayed_cleartext);
  // Nothing after the hand-over is interpreted.
  EXPECT_EQ(s.on_client_line("STARTTLS").next, Next::Fail);
}

TEST(SmtpServer, RequireTlsRefusesMailBeforeStarttls) {
  auto s = greeted({.common = {.require_tls = true}});
  expect_action(s.on_client_line("MAIL FROM:<a@b>"), Next::ReadClient,
                "530 5.7.0 Must issue a STARTTLS command first\r\n");
  expect_action(s.on_client_line("STARTTLS"), Next::StartTls, "220 2.0.0 Ready to start TLS\r\n");
}

TEST(SmtpServer, QuitIsForwardedAndRelayed) {
  auto s = greeted();
  expect_action(s.on_client_line("QUIT"), Next::Relay, "", "QUIT\r\n");
}

TEST(SmtpServer, RejectingGreetingIsRelayedAndNoStarttlsOffered) {
  Server s({});
  (void)s.start();
  expect_action(s.on_backend_line("554 5.3.2 go away"), Next::Relay, "554 5.3.2 go away\r\n");
}

TEST(SmtpServer, MalformedBackendReplyFails) {
  auto s = greeted();
  (void)s.on_client_line("EHLO c");
  const auto a = s.on_backend_line("hello there");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->fault, Fault::Peer);
}

TEST(SmtpServer, EndlessBackendReplyIsBounded) {
  Limits limits;
  limits.max_reply_lines = 50;
  auto s = greeted({.common = {.limits = limits}});
  (void)s.on_client_line("EHLO c");
  auto [n, a] = test::flood_backend(s, "250-x", "250-x");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->code, Errc::ReplyTooLong);
  EXPECT_EQ(n, 51);
}

TEST(SmtpServer, LinesOutOfTurnFailClosed) {
  Server s({});
  (void)s.start();
  EXPECT_EQ(s.on_client_line("EHLO early").next, Next::Fail);  // before the backend greeted
}

TEST(SmtpServer, FormatReplyRoundTrips) {
  EXPECT_EQ(format_reply({250, {"a", "b"}}), "250-a\r\n250 b\r\n");
  EXPECT_EQ(format_reply({220, {""}}), "220\r\n");
}

}  // namespace
}  // namespace ostls::smtp
