// FTP server role (RFC 4217 §4 AUTH TLS, §8 PBSZ, §9 PROT; RFC 2389 FEAT; RFC 959 §4.2
// replies): AUTH TLS/PBSZ/PROT added to FEAT, AUTH TLS answered 234 locally, PBSZ and PROT
// answered locally under TLS (only PROT C), the rest relayed line by line up to the first
// data-connection command.
#include <gtest/gtest.h>

#include "protocols/ftp.hpp"
#include "protocols/server_steps.hpp"

namespace ostls::ftp {
namespace {

using proto::Next;
using test::expect_action;

Server greeted(proto::ServerParams params = {}) {
  Server s(std::move(params));
  EXPECT_EQ(s.start().next, Next::ReadBackend);
  expect_action(s.on_backend_line("220 vsftpd ready"), Next::ReadClient, "220 vsftpd ready\r\n");
  return s;
}

Server upgraded(proto::ServerParams params = {}) {
  auto s = greeted(std::move(params));
  expect_action(s.on_client_line("AUTH TLS"), Next::StartTls, "234 Proceed with TLS negotiation\r\n");
  expect_action(s.on_tls_established(), Next::ReadClient, "");
  return s;
}

// Sends FEAT and feeds `lines`; returns everything the client got.
std::string feat(Server& s, std::initializer_list<std::string_view> lines) {
  std::string got;
  expect_action(s.on_client_line("FEAT"), Next::ReadBackend, "", "FEAT\r\n");
  for (auto l : lines) got += s.on_backend_line(l).to_client;
  return got;
}

// ---- greeting and FEAT (RFC 2389) ------------------------------------------------------------

TEST(FtpServer, MultiLineAndDelayedGreetingsAreRelayed) {
  Server s({});
  (void)s.start();
  expect_action(s.on_backend_line("120 ready in 1 minute"), Next::ReadBackend, "120 ready in 1 minute\r\n");
  expect_action(s.on_backend_line("220-welcome"), Next::ReadBackend, "220-welcome\r\n");
  expect_action(s.on_backend_line("  rules apply"), Next::ReadBackend, "  rules apply\r\n");
  expect_action(s.on_backend_line("220 ready"), Next::ReadClient, "220 ready\r\n");
}

TEST(FtpServer, FeatGetsAuthTlsPbszProt) {
  auto s = greeted();
  EXPECT_EQ(feat(s, {"211-Features:", " EPSV", " PASV", "211 End"}),
            "211-Features:\r\n EPSV\r\n PASV\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n211 End\r\n");
  // Already listed (a backend with TLS of its own): nothing added twice.
  EXPECT_EQ(feat(s, {"211-Features:", " AUTH TLS;SSL", " PBSZ", " PROT", "211 End"}),
            "211-Features:\r\n AUTH TLS;SSL\r\n PBSZ\r\n PROT\r\n211 End\r\n");
}

TEST(FtpServer, BackendWithoutFeaturesGetsOurList) {
  for (std::string_view reply : {"211 No features", "500 Unknown command", "502 Not implemented"}) {
    SCOPED_TRACE(reply);
    auto s = greeted();
    EXPECT_EQ(feat(s, {reply}), "211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n211 End\r\n");
  }
}

TEST(FtpServer, NoopSystHelpAreRelayed) {
  auto s = greeted();
  expect_action(s.on_client_line("NOOP"), Next::ReadBackend, "", "NOOP\r\n");
  expect_action(s.on_backend_line("200 NOOP ok."), Next::ReadClient, "200 NOOP ok.\r\n");
  expect_action(s.on_client_line("syst"), Next::ReadBackend, "", "syst\r\n");
  expect_action(s.on_backend_line("215 UNIX Type: L8"), Next::ReadClient, "215 UNIX Type: L8\r\n");
  expect_action(s.on_client_line("HELP"), Next::ReadBackend, "", "HELP\r\n");
  expect_action(s.on_backend_line("214-The following commands are recognized."), Next::ReadBackend,
                "214-The following commands are recognized.\r\n");
  expect_action(s.on_backend_line(" ABOR ACCT ALLO"), Next::ReadBackend, " ABOR ACCT ALLO\r\n");
  expect_action(s.on_backend_line("214 Help OK."), Next::ReadClient, "214 Help OK.\r\n");
}

TEST(FtpServer, RefusingGreetingIsRelayed) {
  Server s({});
  (void)s.start();
  expect_action(s.on_backend_line("421 Too many users"), Next::Relay, "421 Too many users\r\n");
  Server t({});
  (void)t.start();
  const auto a = t.on_backend_line("SSH-2.0-OpenSSH_9.2");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->fault, Fault::Peer);
}

// ---- AUTH TLS (RFC 4217 §4) ------------------------------------------------------------------

TEST(FtpServer, AuthTlsIsAnsweredHere) {
  for (std::string_view line : {"AUTH TLS", "auth tls", "AUTH TLS-C"}) {
    SCOPED_TRACE(line);
    auto s = greeted();
    expect_action(s.on_client_line(line), Next::StartTls, "234 Proceed with TLS negotiation\r\n");
    EXPECT_TRUE(s.facts().upgrade_requested);
  }
}

TEST(FtpServer, OtherMechanismsAreRefusedHere) {
  auto s = greeted();
  for (std::string_view line : {"AUTH SSL", "AUTH TLS-P", "AUTH GSSAPI", "AUTH"}) {
    SCOPED_TRACE(line);
    expect_action(s.on_client_line(line), Next::ReadClient, "504 Only AUTH TLS is supported\r\n");
  }
  EXPECT_FALSE(s.facts().upgrade_requested);
}

TEST(FtpServer, PipelinedCommandBehindAuthTlsIsNotRead) {
  // "AUTH TLS\r\nUSER anonymous\r\n" in one write: the machine asks for the handshake on the
  // first line; the driver discards the rest (R10).
  auto s = greeted();
  expect_action(s.on_client_line("AUTH TLS"), Next::StartTls, "234 Proceed with TLS negotiation\r\n");
  expect_action(s.on_client_line("USER anonymous"), Next::Fail, "");
}

TEST(FtpServer, PbszAndProtBeforeTlsAreOutOfSequence) {
  auto s = greeted();
  expect_action(s.on_client_line("PBSZ 0"), Next::ReadClient, "503 AUTH TLS first\r\n");
  expect_action(s.on_client_line("PROT P"), Next::ReadClient, "503 AUTH TLS first\r\n");
  EXPECT_FALSE(s.facts().relayed_cleartext);
}

// ---- under TLS: PBSZ and PROT (RFC 4217 §8, §9), line-by-line relay --------------------------

TEST(FtpServer, PbszAndProtAreAnsweredHere) {
  auto s = upgraded();
  expect_action(s.on_client_line("PBSZ 0"), Next::ReadClient, "200 PBSZ=0\r\n");
  expect_action(s.on_client_line("PBSZ 1024"), Next::ReadClient, "200 PBSZ=0\r\n");
  expect_action(s.on_client_line("PBSZ"), Next::ReadClient, "501 Syntax error in PBSZ\r\n");
  expect_action(s.on_client_line("PROT C"), Next::ReadClient, "200 Protection level set to Clear\r\n");
  for (std::string_view level : {"PROT P", "prot p", "PROT S", "PROT E"}) {
    SCOPED_TRACE(level);
    expect_action(s.on_client_line(level), Next::ReadClient,
                  "536 Only PROT C: this server protects the control connection only\r\n");
  }
  expect_action(s.on_client_line("PROT X"), Next::ReadClient, "504 Unknown protection level\r\n");
  expect_action(s.on_client_line("AUTH TLS"), Next::ReadClient, "503 TLS is already established\r\n");
  EXPECT_TRUE(s.facts().tls_established);
}

TEST(FtpServer, LoginIsRelayedLineByLineUntilADataCommand) {
  auto s = upgraded();
  expect_action(s.on_client_line("USER anonymous"), Next::ReadBackend, "", "USER anonymous\r\n");
  expect_action(s.on_backend_line("331 Please specify the password."), Next::ReadClient,
                "331 Please specify the password.\r\n");
  expect_action(s.on_client_line("PASS x"), Next::ReadBackend, "", "PASS x\r\n");
  expect_action(s.on_backend_line("230-Welcome"), Next::ReadBackend, "230-Welcome\r\n");
  expect_action(s.on_backend_line("230 Login successful."), Next::ReadClient, "230 Login successful.\r\n");
  // PROT after the login (curl's order) is still answered here.
  expect_action(s.on_client_line("PROT C"), Next::ReadClient, "200 Protection level set to Clear\r\n");
  for (std::string_view data : {"PASV", "EPSV", "PORT 127,0,0,1,4,1", "EPRT |1|127.0.0.1|1025|"}) {
    SCOPED_TRACE(data);
    auto t = upgraded();
    expect_action(t.on_client_line(data), Next::Relay, "", std::string(data) + "\r\n");
    EXPECT_FALSE(t.facts().relayed_cleartext);
  }
}

TEST(FtpServer, FeatUnderTlsListsPbszProtButNotAuth) {
  auto s = upgraded();
  EXPECT_EQ(feat(s, {"211-Features:", " EPSV", " AUTH TLS", "211 End"}),
            "211-Features:\r\n EPSV\r\n PBSZ\r\n PROT\r\n211 End\r\n");
}

TEST(FtpServer, PreliminaryRepliesWaitForTheFinalOne) {
  auto s = upgraded();
  expect_action(s.on_client_line("STAT"), Next::ReadBackend, "", "STAT\r\n");
  expect_action(s.on_backend_line("150 working"), Next::ReadBackend, "150 working\r\n");
  expect_action(s.on_backend_line("211 done"), Next::ReadClient, "211 done\r\n");
  expect_action(s.on_client_line("CWD /"), Next::ReadBackend, "", "CWD /\r\n");
  expect_action(s.on_backend_line("421 Timeout."), Next::Relay, "421 Timeout.\r\n");
}

// ---- cleartext continuation and require_tls (530) ------------------------------------------

TEST(FtpServer, OtherCommandsContinueInCleartextOrAreRefused) {
  auto s = greeted();
  expect_action(s.on_client_line("USER anonymous"), Next::Relay, "", "USER anonymous\r\n");
  EXPECT_TRUE(s.facts().relayed_cleartext);
  auto strict = greeted({.require_tls = true});
  expect_action(strict.on_client_line("USER anonymous"), Next::ReadClient,
                "530 TLS required on the control connection: use AUTH TLS first\r\n");
  expect_action(strict.on_client_line("AUTH TLS"), Next::StartTls, "234 Proceed with TLS negotiation\r\n");
  EXPECT_FALSE(strict.facts().relayed_cleartext);
}

TEST(FtpServer, QuitIsRelayed) {
  auto s = greeted();
  expect_action(s.on_client_line("QUIT"), Next::Relay, "", "QUIT\r\n");
  EXPECT_FALSE(s.facts().relayed_cleartext);
}

// ---- hostile backends and wrong turns ---------------------------------------------------------

TEST(FtpServer, EndlessFeatIsBounded) {
  Limits limits;
  limits.max_reply_lines = 10;
  auto s = greeted({.limits = limits});
  (void)s.on_client_line("FEAT");
  auto [n, a] = test::flood_backend(s, "211-Features:", " X");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->code, Errc::ReplyTooLong);
  EXPECT_EQ(a.error->fault, Fault::Peer);
  EXPECT_EQ(n, 11);  // the first line and ten more: the eleventh line of the reply
}

TEST(FtpServer, OversizedReplyUnderTlsIsBounded) {
  Limits limits;
  limits.max_reply_bytes = 100;
  auto s = upgraded({.limits = limits});
  (void)s.on_client_line("HELP");
  const std::string big(80, 'x');
  expect_action(s.on_backend_line("214-" + big), Next::ReadBackend, "214-" + big + "\r\n");
  const auto a = s.on_backend_line(big);
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->code, Errc::ReplyTooLong);
}

TEST(FtpServer, LinesOutOfTurnFailLocally) {
  Server s({});
  (void)s.start();
  auto a = s.on_client_line("FEAT");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->fault, Fault::Local);
  auto g = greeted();
  a = g.on_backend_line("200 unasked");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->fault, Fault::Local);
}

}  // namespace
}  // namespace ostls::ftp
