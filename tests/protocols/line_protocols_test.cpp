// ManageSieve (RFC 5804 §2.2), NNTP (RFC 4642), FTP (RFC 4217, RFC 959 §4.2), IRC (IRCv3 tls):
// golden dialogues, grammars and bounds.
#include <gtest/gtest.h>

#include "protocols/ftp.hpp"
#include "protocols/irc.hpp"
#include "protocols/sieve.hpp"
#include "protocols/transcript.hpp"

namespace ostls {
namespace {

TEST(SieveTranscripts, EveryGoldenDialogue) { EXPECT_GE(test::run_transcripts(proto::Family::Sieve, "sieve"), 5); }
TEST(NntpTranscripts, EveryGoldenDialogue) { EXPECT_GE(test::run_transcripts(proto::Family::Nntp, "nntp"), 5); }
TEST(FtpTranscripts, EveryGoldenDialogue) { EXPECT_GE(test::run_transcripts(proto::Family::Ftp, "ftp"), 5); }
TEST(IrcTranscripts, EveryGoldenDialogue) { EXPECT_GE(test::run_transcripts(proto::Family::Irc, "irc"), 5); }

TEST(Sieve, CapabilityLine) {
  EXPECT_EQ(sieve::capability_line("\"SASL\" \"PLAIN LOGIN\""), "SASL PLAIN LOGIN");
  EXPECT_EQ(sieve::capability_line("\"STARTTLS\""), "STARTTLS");
}

TEST(Ftp, ReplyGrammar) {
  ftp::ReplyReader r({});
  ASSERT_FALSE(r.feed("xyz hello")) << "non-numeric code";
  for (std::string_view short_line : {"", "2", "22"}) {
    EXPECT_FALSE(ftp::ReplyReader({}).feed(short_line)) << "found by fuzz_line_clients: short lines";
  }
  auto first = r.feed("211-Features:");
  ASSERT_TRUE(first && !first->has_value());
  ASSERT_TRUE(r.feed(" AUTH TLS"));
  ASSERT_TRUE(r.feed("211-not the end (hyphen)"));
  auto end = r.feed("211 End");
  ASSERT_TRUE(end && end->has_value());
  EXPECT_EQ((*end)->lines.size(), 4u);
}

TEST(Ftp, EndlessReplyIsBounded) {
  Limits limits;
  limits.max_reply_lines = 20;
  ftp::ReplyReader r(limits);
  ASSERT_TRUE(r.feed("220-hi"));
  Result<std::optional<ftp::Reply>> res = std::optional<ftp::Reply>{};
  int n = 0;
  while (res && n < 10000) {
    res = r.feed("more");
    ++n;
  }
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, Errc::ReplyTooLong);
}

TEST(Irc, MessageGrammar) {
  const auto m = irc::parse_message(":irc.example.org 670 nick :STARTTLS successful");
  EXPECT_EQ(m.prefix, "irc.example.org");
  EXPECT_EQ(m.command, "670");
  EXPECT_EQ(m.params, (std::vector<std::string>{"nick", "STARTTLS successful"}));
  EXPECT_EQ(irc::parse_message("PING :x").command, "PING");
  EXPECT_TRUE(irc::parse_message("").command.empty());
}

TEST(Irc, NoticeFloodIsBounded) {
  Limits limits;
  limits.max_reply_lines = 30;
  irc::Client c({.limits = limits});
  ASSERT_TRUE(std::holds_alternative<proto::Send>(c.start()));
  proto::Step s = proto::ReadLine{};
  int n = 0;
  while (std::holds_alternative<proto::ReadLine>(s) && n < 10000) {
    s = c.on_line(":s NOTICE * :spam");
    ++n;
  }
  ASSERT_TRUE(std::holds_alternative<proto::Fail>(s));
  EXPECT_EQ(n, 31);
}

}  // namespace
}  // namespace ostls
