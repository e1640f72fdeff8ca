// SMTP STARTTLS client (RFC 3207 §4–§4.2, RFC 5321 §3.1–§3.2, RFC 2033 §4.1, RFC 8314 §3):
// golden dialogues from tests/data/transcripts/smtp, every one of them run, plus tables for the
// masked-keyword heuristic and hostile replies.
#include <gtest/gtest.h>


#include "protocols/smtp.hpp"
#include "protocols/transcript.hpp"

namespace ostls::smtp {
namespace {

TEST(SmtpTranscripts, EveryGoldenDialogue) {
  EXPECT_GE(test::run_transcripts(proto::Family::Smtp, "smtp"), 13);
}

struct MaskRow {
  std::string_view keyword;
  bool masked;
};
constexpr MaskRow mask_rows[] = {
    {"XXXXXXXA", true},  {"XXXXXXXX", true},  {"STARTTLZ", true},  {"STARTXXS", true},
    {"STARTTLS", false}, {"8BITMIME", false}, {"PIPELINING", false}, {"CHUNKING", false},
    {"XXXX", false},     {"SMTPUTF8", false}, {"", false},
};

TEST(Smtp, LooksMasked) {
  for (const auto& row : mask_rows) {
    EXPECT_EQ(looks_masked(row.keyword), row.masked) << row.keyword;
  }
}

TEST(Smtp, PreTlsCapabilitiesAreNotReused) {
  // R10: after TLS, only the post-TLS EHLO reply counts, even when it is shorter.
  Client c({.helo = "h"});
  (void)c.start();
  (void)c.on_line("220 x");
  (void)c.on_line("250-x");
  (void)c.on_line("250-AUTH PLAIN");
  ASSERT_TRUE(std::holds_alternative<proto::Send>(c.on_line("250 STARTTLS")));
  ASSERT_TRUE(std::holds_alternative<proto::StartTls>(c.on_line("220 go")));
  (void)c.on_tls_established();
  ASSERT_TRUE(std::holds_alternative<proto::Close>(c.on_line("250 x")));
  EXPECT_TRUE(c.facts().caps_tls.empty());
  EXPECT_FALSE(c.facts().offered_after_tls);
  EXPECT_EQ(c.facts().caps_plain.size(), 2u);
}

TEST(Smtp, FailsClosedAfterAFailure) {
  // After a malformed reply nothing the peer says is acted on, not even a STARTTLS offer.
  Client c({.helo = "h"});
  (void)c.start();
  ASSERT_TRUE(std::holds_alternative<proto::Fail>(c.on_line("garbage")));
  EXPECT_TRUE(std::holds_alternative<proto::Fail>(c.on_line("220 x")));
  EXPECT_TRUE(std::holds_alternative<proto::Fail>(c.on_line("250 STARTTLS")));
}

TEST(Smtp, ReplyAfterEndIsAnError) {
  Client c({.helo = "h", .upgrade = proto::Upgrade::Never});
  (void)c.start();
  (void)c.on_line("220 x");
  ASSERT_TRUE(std::holds_alternative<proto::Close>(c.on_line("250 x")));
  EXPECT_TRUE(std::holds_alternative<proto::Fail>(c.on_line("250 unsolicited")));
}

}  // namespace
}  // namespace ostls::smtp
