// IMAP STARTTLS client (RFC 9051 §6.2.1, §7.1; RFC 2595 §3.1): golden dialogues and the
// capability grammar.
#include <gtest/gtest.h>

#include "protocols/imap.hpp"
#include "protocols/transcript.hpp"

namespace ostls::imap {
namespace {

TEST(ImapTranscripts, EveryGoldenDialogue) { EXPECT_GE(test::run_transcripts(proto::Family::Imap, "imap"), 11); }

TEST(Imap, CapabilityAtoms) {
  EXPECT_EQ(capability_atoms("IMAP4rev1  STARTTLS AUTH=PLAIN"),
            (std::vector<std::string>{"IMAP4rev1", "STARTTLS", "AUTH=PLAIN"}));
  EXPECT_TRUE(capability_atoms("").empty());
}

TEST(Imap, UntaggedFloodIsBounded) {
  Limits limits;
  limits.max_reply_lines = 50;
  Client c({.limits = limits});
  (void)c.start();
  ASSERT_TRUE(std::holds_alternative<proto::Send>(c.on_line("* OK ready")));
  proto::Step s = proto::ReadLine{};
  int n = 0;
  while (std::holds_alternative<proto::ReadLine>(s) && n < 10000) {
    s = c.on_line("* OK more and more");
    ++n;
  }
  ASSERT_TRUE(std::holds_alternative<proto::Fail>(s));
  EXPECT_EQ(std::get<proto::Fail>(s).error.code, Errc::ReplyTooLong);
  EXPECT_EQ(n, 51);
}

TEST(Imap, CaseInsensitiveStatus) {
  Client c({});
  (void)c.start();
  auto s = c.on_line("* ok [capability imap4rev1 starttls] hi");
  ASSERT_TRUE(std::holds_alternative<proto::Send>(s));
  EXPECT_EQ(std::get<proto::Send>(s).bytes, "a1 STARTTLS\r\n");
}

}  // namespace
}  // namespace ostls::imap
