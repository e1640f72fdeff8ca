// ManageSieve server role (RFC 5804 §1.7 STARTTLS, §2.2 capabilities re-issued after TLS,
// §1.3 ENCRYPT-NEEDED): "STARTTLS" added before the greeting's OK, STARTTLS answered locally,
// the backend asked CAPABILITY after TLS, bounded relaying.
#include <gtest/gtest.h>

#include "protocols/server_steps.hpp"
#include "protocols/sieve.hpp"

namespace ostls::sieve {
namespace {

using proto::Next;
using test::expect_action;

constexpr std::string_view implementation = "\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"";

Server greeted(proto::ServerParams params = {}) {
  const bool strict = params.require_tls;
  Server s(std::move(params));
  EXPECT_EQ(s.start().next, Next::ReadBackend);
  expect_action(s.on_backend_line(implementation), Next::ReadBackend, std::string(implementation) + "\r\n");
  expect_action(s.on_backend_line("\"SASL\" \"PLAIN\""), Next::ReadBackend,
                strict ? "\"SASL\" \"\"\r\n" : "\"SASL\" \"PLAIN\"\r\n");
  expect_action(s.on_backend_line("\"VERSION\" \"1.0\""), Next::ReadBackend, "\"VERSION\" \"1.0\"\r\n");
  expect_action(s.on_backend_line("OK \"ready\""), Next::ReadClient, "\"STARTTLS\"\r\nOK \"ready\"\r\n");
  return s;
}

// ---- greeting and capabilities (§1.7: the greeting is the capability list) -----------------

TEST(SieveServer, GreetingAlreadyListingStarttlsIsUnchanged) {
  Server s({});
  (void)s.start();
  expect_action(s.on_backend_line("\"starttls\""), Next::ReadBackend, "\"starttls\"\r\n");
  expect_action(s.on_backend_line("ok"), Next::ReadClient, "ok\r\n");
}

TEST(SieveServer, CapabilityCommandGetsStarttls) {
  auto s = greeted();
  expect_action(s.on_client_line("capability"), Next::ReadBackend, "", "CAPABILITY\r\n");
  expect_action(s.on_backend_line("\"SIEVE\" \"fileinto\""), Next::ReadBackend, "\"SIEVE\" \"fileinto\"\r\n");
  expect_action(s.on_backend_line("OK \"Capability completed.\""), Next::ReadClient,
                "\"STARTTLS\"\r\nOK \"Capability completed.\"\r\n");
}

TEST(SieveServer, NoopIsRelayed) {
  auto s = greeted();
  expect_action(s.on_client_line("NOOP \"t1\""), Next::ReadBackend, "", "NOOP \"t1\"\r\n");
  expect_action(s.on_backend_line("OK (TAG \"t1\") \"Done\""), Next::ReadClient, "OK (TAG \"t1\") \"Done\"\r\n");
  expect_action(s.on_client_line("NOOP"), Next::ReadBackend, "", "NOOP\r\n");
  expect_action(s.on_backend_line("NO \"no\""), Next::ReadClient, "NO \"no\"\r\n");
}

TEST(SieveServer, RefusingGreetingIsRelayed) {
  for (std::string_view line : {"BYE \"busy\"", "NO \"go away\"", "{12}"}) {
    SCOPED_TRACE(line);
    Server s({});
    (void)s.start();
    expect_action(s.on_backend_line(line), Next::Relay, std::string(line) + "\r\n");
    EXPECT_FALSE(s.facts().upgrade_requested);
  }
}

// ---- STARTTLS (§2.2) --------------------------------------------------------------------------

TEST(SieveServer, StarttlsIsAnsweredHereThenTheBackendIsAskedForTheList) {
  auto s = greeted();
  expect_action(s.on_client_line("StartTls"), Next::StartTls, "OK \"Begin TLS negotiation now.\"\r\n");
  EXPECT_TRUE(s.facts().upgrade_requested);
  expect_action(s.on_tls_established(), Next::ReadBackend, "", "CAPABILITY\r\n");
  expect_action(s.on_backend_line(implementation), Next::ReadBackend, std::string(implementation) + "\r\n");
  expect_action(s.on_backend_line("\"SASL\" \"PLAIN\""), Next::ReadBackend, "\"SASL\" \"PLAIN\"\r\n");
  // A backend that lists STARTTLS itself: not offered again under TLS.
  expect_action(s.on_backend_line("\"STARTTLS\""), Next::ReadBackend, "");
  expect_action(s.on_backend_line("OK \"Capability completed.\""), Next::Relay, "OK \"Capability completed.\"\r\n");
  EXPECT_TRUE(s.facts().tls_established);
  EXPECT_FALSE(s.facts().relayed_cleartext);
}

TEST(SieveServer, PipelinedCommandBehindStarttlsIsNotRead) {
  // The client wrote "STARTTLS\r\nAUTHENTICATE ..." at once: the machine asks for the handshake
  // on the first line and reads nothing more from the client (the driver discards the rest, R10).
  auto s = greeted();
  expect_action(s.on_client_line("STARTTLS"), Next::StartTls, "OK \"Begin TLS negotiation now.\"\r\n");
  expect_action(s.on_client_line("AUTHENTICATE \"PLAIN\" \"AGFsaWNlAHNlY3JldA==\""), Next::Fail, "");
  EXPECT_EQ(s.facts().events.size(), 0u);
}

TEST(SieveServer, StarttlsWithArgumentsIsNotTheUpgrade) {
  auto s = greeted();
  expect_action(s.on_client_line("STARTTLS now"), Next::Relay, "", "STARTTLS now\r\n");
  EXPECT_TRUE(s.facts().relayed_cleartext);
}

TEST(SieveServer, RefusalAfterTlsIsRelayed) {
  auto s = greeted();
  (void)s.on_client_line("STARTTLS");
  (void)s.on_tls_established();
  expect_action(s.on_backend_line("BYE \"shutting down\""), Next::Relay, "BYE \"shutting down\"\r\n");
}

// ---- cleartext continuation and require_tls (§1.3 ENCRYPT-NEEDED) -----------------------------

TEST(SieveServer, OtherCommandsContinueInCleartext) {
  for (std::string_view line : {"AUTHENTICATE \"PLAIN\" \"AGFsaWNlAHNlY3JldA==\"", "LISTSCRIPTS", "NOOP {3+}"}) {
    SCOPED_TRACE(line);
    auto s = greeted();
    expect_action(s.on_client_line(line), Next::Relay, "", std::string(line) + "\r\n");
    EXPECT_TRUE(s.facts().relayed_cleartext);
  }
}

TEST(SieveServer, LogoutIsRelayed) {
  auto s = greeted();
  expect_action(s.on_client_line("LOGOUT"), Next::Relay, "", "LOGOUT\r\n");
  EXPECT_FALSE(s.facts().relayed_cleartext);
}

TEST(SieveServer, RequireTlsRefusesWithEncryptNeeded) {
  auto s = greeted({.require_tls = true});
  expect_action(s.on_client_line("AUTHENTICATE \"PLAIN\" \"AGFsaWNlAHNlY3JldA==\""), Next::ReadClient,
                "NO (ENCRYPT-NEEDED) \"Use STARTTLS first\"\r\n");
  expect_action(s.on_client_line("LISTSCRIPTS"), Next::ReadClient, "NO (ENCRYPT-NEEDED) \"Use STARTTLS first\"\r\n");
  // The data of a literal would be read as commands: the session ends instead.
  expect_action(s.on_client_line("PUTSCRIPT \"a\" {120+}"), Next::Close, "BYE (ENCRYPT-NEEDED) \"Use STARTTLS first\"\r\n");
  auto t = greeted({.require_tls = true});
  expect_action(t.on_client_line("STARTTLS"), Next::StartTls, "OK \"Begin TLS negotiation now.\"\r\n");
  expect_action(t.on_tls_established(), Next::ReadBackend, "", "CAPABILITY\r\n");
  // Under TLS the mechanisms are the backend's again.
  expect_action(t.on_backend_line("\"SASL\" \"PLAIN\""), Next::ReadBackend, "\"SASL\" \"PLAIN\"\r\n");
  EXPECT_FALSE(t.facts().relayed_cleartext);
}

// ---- hostile backends and wrong turns ---------------------------------------------------------

TEST(SieveServer, EndlessCapabilityListIsBounded) {
  Limits limits;
  limits.max_reply_lines = 10;
  Server s({.limits = limits});
  (void)s.start();
  auto [n, a] = test::flood_backend(s, "\"X\"", "\"X\"");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->code, Errc::ReplyTooLong);
  EXPECT_EQ(a.error->fault, Fault::Peer);
  EXPECT_EQ(n, 11);
}

TEST(SieveServer, OversizedCapabilityListAfterTlsIsBounded) {
  Limits limits;
  limits.max_reply_bytes = 100;
  auto s = greeted({.limits = limits});
  (void)s.on_client_line("STARTTLS");
  (void)s.on_tls_established();
  const std::string big = "\"SIEVE\" \"" + std::string(60, 'x') + "\"";
  expect_action(s.on_backend_line(big), Next::ReadBackend, big + "\r\n");
  const auto a = s.on_backend_line(big);
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->code, Errc::ReplyTooLong);
}

TEST(SieveServer, LinesOutOfTurnFailLocally) {
  Server s({});
  (void)s.start();
  auto a = s.on_client_line("CAPABILITY");  // before the greeting
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->fault, Fault::Local);
  auto g = greeted();
  a = g.on_backend_line("OK \"unasked\"");  // the backend speaks while the client has the turn
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->fault, Fault::Local);
}

}  // namespace
}  // namespace ostls::sieve
