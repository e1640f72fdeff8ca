// POP3 server role: STLS added to CAPA, answered locally.
#include <gtest/gtest.h>

#include "protocols/pop3.hpp"
#include "protocols/server_steps.hpp"

namespace ostls::pop3 {
namespace {

using proto::Next;
using test::expect_action;

Server greeted(proto::ServerParams params = {}) {
  Server s(std::move(params));
  EXPECT_EQ(s.start().next, Next::ReadBackend);
  expect_action(s.on_backend_line("+OK POP3 ready"), Next::ReadClient, "+OK POP3 ready\r\n");
  return s;
}

TEST(Pop3Server, CapaGetsStls) {
  auto s = greeted();
  expect_action(s.on_client_line("CAPA"), Next::ReadBackend, "", "CAPA\r\n");
  expect_action(s.on_backend_line("+OK list"), Next::ReadBackend, "+OK list\r\n");
  expect_action(s.on_backend_line("USER"), Next::ReadBackend, "USER\r\n");
  expect_action(s.on_backend_line("."), Next::ReadClient, "STLS\r\n.\r\n");
}

TEST(Pop3Server, CapaAlreadyListingStlsIsUnchanged) {
  auto s = greeted();
  (void)s.on_client_line("capa");
  (void)s.on_backend_line("+OK");
  expect_action(s.on_backend_line("STLS"), Next::ReadBackend, "STLS\r\n");
  expect_action(s.on_backend_line("."), Next::ReadClient, ".\r\n");
}

TEST(Pop3Server, BackendWithoutCapaGetsOurs) {
  auto s = greeted();
  (void)s.on_client_line("CAPA");
  expect_action(s.on_backend_line("-ERR unknown command"), Next::ReadClient, "+OK Capability list follows\r\nSTLS\r\n.\r\n");
}

TEST(Pop3Server, StlsIsAnsweredHere) {
  auto s = greeted();
  expect_action(s.on_client_line("STLS"), Next::StartTls, "+OK Begin TLS negotiation\r\n");
  expect_action(s.on_tls_established(), Next::Relay, "");
}

TEST(Pop3Server, UserContinuesInCleartextOrIsRefused) {
  auto s = greeted();
  expect_action(s.on_client_line("USER alice"), Next::Relay, "", "USER alice\r\n");
  auto strict = greeted({.require_tls = true});
  expect_action(strict.on_client_line("USER alice"), Next::ReadClient, "-ERR Use STLS first\r\n");
}

TEST(Pop3Server, NegativeGreetingIsRelayed) {
  Server s({});
  (void)s.start();
  expect_action(s.on_backend_line("-ERR busy"), Next::Relay, "-ERR busy\r\n");
}

TEST(Pop3Server, EndlessCapaIsBounded) {
  Limits limits;
  limits.max_reply_lines = 10;
  auto s = greeted({.limits = limits});
  (void)s.on_client_line("CAPA");
  (void)s.on_backend_line("+OK");
  auto [n, a] = test::flood_backend(s, "X", "X");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(n, 11);
}

}  // namespace
}  // namespace ostls::pop3
