// IMAP server role: STARTTLS added to capability lists, "tag STARTTLS" answered locally.
#include <gtest/gtest.h>

#include "protocols/imap.hpp"
#include "protocols/server_steps.hpp"

namespace ostls::imap {
namespace {

using proto::Next;
using test::expect_action;

Server greeted(proto::ServerParams params = {}) {
  Server s(std::move(params));
  EXPECT_EQ(s.start().next, Next::ReadBackend);
  expect_action(s.on_backend_line("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready"), Next::ReadClient,
                params.require_tls ? "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN STARTTLS LOGINDISABLED] ready\r\n"
                                   : "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN STARTTLS] ready\r\n");
  return s;
}

TEST(ImapServer, GreetingWithoutCapabilityCodeIsUnchanged) {
  Server s({});
  (void)s.start();
  expect_action(s.on_backend_line("* OK ready"), Next::ReadClient, "* OK ready\r\n");
}

TEST(ImapServer, CapabilityResponseGetsStarttls) {
  auto s = greeted();
  expect_action(s.on_client_line("a1 CAPABILITY"), Next::ReadBackend, "", "a1 CAPABILITY\r\n");
  expect_action(s.on_backend_line("* CAPABILITY IMAP4rev1 IDLE"), Next::ReadBackend,
                "* CAPABILITY IMAP4rev1 IDLE STARTTLS\r\n");
  expect_action(s.on_backend_line("* 3 EXISTS"), Next::ReadBackend, "* 3 EXISTS\r\n");
  expect_action(s.on_backend_line("a1 OK done"), Next::ReadClient, "a1 OK done\r\n");
}

TEST(ImapServer, TaggedOkWithCapabilityCodeIsRewritten) {
  auto s = greeted();
  (void)s.on_client_line("x NOOP");
  expect_action(s.on_backend_line("x OK [CAPABILITY IMAP4rev1] fine"), Next::ReadClient,
                "x OK [CAPABILITY IMAP4rev1 STARTTLS] fine\r\n");
}

TEST(ImapServer, StarttlsIsAnsweredHere) {
  auto s = greeted();
  expect_action(s.on_client_line("t7 starttls"), Next::StartTls, "t7 OK Begin TLS negotiation now\r\n");
  expect_action(s.on_tls_established(), Next::Relay, "");
  EXPECT_TRUE(s.facts().upgrade_requested);
}

TEST(ImapServer, LoginContinuesInCleartextOrIsRefusedUnderRequireTls) {
  auto s = greeted();
  expect_action(s.on_client_line("a LOGIN u p"), Next::Relay, "", "a LOGIN u p\r\n");
  EXPECT_TRUE(s.facts().relayed_cleartext);
  auto strict = greeted({.require_tls = true});
  expect_action(strict.on_client_line("a LOGIN u p"), Next::ReadClient, "a NO [PRIVACYREQUIRED] STARTTLS first\r\n");
  EXPECT_FALSE(strict.facts().relayed_cleartext);
}

TEST(ImapServer, PreauthGreetingIsRelayedWithTheIndicator) {
  Server s({});
  (void)s.start();
  expect_action(s.on_backend_line("* PREAUTH welcome"), Next::Relay, "* PREAUTH welcome\r\n");
  ASSERT_EQ(s.facts().events.size(), 1u);
  EXPECT_EQ(s.facts().events[0].type, EventType::PreauthSkipsStarttls);
}

TEST(ImapServer, ContinuationRequestHandsOverToRelay) {
  auto s = greeted();
  (void)s.on_client_line("a NOOP");
  expect_action(s.on_backend_line("+ go on"), Next::Relay, "+ go on\r\n");
}

TEST(ImapServer, EndlessUntaggedResponsesAreBounded) {
  Limits limits;
  limits.max_reply_lines = 20;
  auto s = greeted({.limits = limits});
  (void)s.on_client_line("a NOOP");
  auto [n, a] = test::flood_backend(s, "* 1 EXISTS", "* 1 EXISTS");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(n, 21);
}

}  // namespace
}  // namespace ostls::imap
