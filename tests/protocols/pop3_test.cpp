// POP3 STLS client (RFC 2595 §4, RFC 2449 CAPA, RFC 1939 §3 multi-line replies).
#include <gtest/gtest.h>

#include "protocols/pop3.hpp"
#include "protocols/transcript.hpp"

namespace ostls::pop3 {
namespace {

TEST(Pop3Transcripts, EveryGoldenDialogue) { EXPECT_GE(test::run_transcripts(proto::Family::Pop3, "pop3"), 7); }

TEST(Pop3, EndlessCapaIsBounded) {
  Limits limits;
  limits.max_reply_lines = 100;
  Client c({.limits = limits});
  (void)c.start();
  ASSERT_TRUE(std::holds_alternative<proto::Send>(c.on_line("+OK hi")));
  ASSERT_TRUE(std::holds_alternative<proto::ReadLine>(c.on_line("+OK")));
  proto::Step s = proto::ReadLine{};
  int n = 0;
  while (std::holds_alternative<proto::ReadLine>(s) && n < 10000) {
    s = c.on_line("X-CAP");
    ++n;
  }
  ASSERT_TRUE(std::holds_alternative<proto::Fail>(s));
  EXPECT_EQ(std::get<proto::Fail>(s).error.code, Errc::ReplyTooLong);
  EXPECT_EQ(n, 101);
}

}  // namespace
}  // namespace ostls::pop3
