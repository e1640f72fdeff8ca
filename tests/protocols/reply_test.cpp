// RFC 5321 §4.2 reply grammar: multi-line replies, the bounds on them, malformed lines.
#include <gtest/gtest.h>

#include <string>

#include "protocols/reply.hpp"

namespace ostls::smtp {
namespace {

Result<std::optional<Reply>> feed_all(ReplyReader& r, std::initializer_list<std::string_view> lines) {
  Result<std::optional<Reply>> last = std::optional<Reply>{};
  for (auto l : lines) {
    last = r.feed(l);
    if (!last) return last;
  }
  return last;
}

TEST(ReplyReader, SingleAndMultiLine) {
  ReplyReader r({});
  auto one = r.feed("220 mx.example.org ESMTP");
  ASSERT_TRUE(one && one->has_value());
  EXPECT_EQ((*one)->code, 220);
  EXPECT_EQ((*one)->lines.at(0), "mx.example.org ESMTP");

  auto multi = feed_all(r, {"250-mx.example.org", "250-PIPELINING", "250 STARTTLS"});
  ASSERT_TRUE(multi && multi->has_value());
  EXPECT_EQ((*multi)->code, 250);
  EXPECT_EQ((*multi)->lines.size(), 3u);
  EXPECT_EQ((*multi)->text(), "mx.example.org / PIPELINING / STARTTLS");

  auto bare = r.feed("250");
  ASSERT_TRUE(bare && bare->has_value()) << "a code alone is a complete reply";
  EXPECT_TRUE((*bare)->lines.at(0).empty());
}

TEST(ReplyReader, ContinuationIsNotComplete) {
  ReplyReader r({});
  auto first = r.feed("250-first");
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->has_value());
}

struct BadLine {
  const char* label;
  std::string_view line;
};
constexpr BadLine bad_lines[] = {
    {"non-numeric code", "ABC hello"},
    {"short", "25"},
    {"empty", ""},
    {"code out of range", "199 nope"},
    {"code 6xx", "600 nope"},
    {"bad separator", "250_hello"},
    {"letters in code", "2x0 hello"},
};

TEST(ReplyReader, RejectsMalformedLines) {
  for (const auto& c : bad_lines) {
    SCOPED_TRACE(c.label);
    ReplyReader r({});
    auto res = r.feed(c.line);
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, Errc::Malformed);
    EXPECT_EQ(res.error().fault, Fault::Peer);
  }
}

TEST(ReplyReader, RejectsCodeChangeInsideReply) {
  ReplyReader r({});
  auto res = feed_all(r, {"250-one", "251 two"});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, Errc::Malformed);
}

TEST(ReplyReader, EndlessContinuationIsBounded) {
  // 10 000 continuation lines (issue 2 acceptance) end in a clean error at the line limit.
  Limits limits;
  limits.max_reply_lines = 256;
  ReplyReader r(limits);
  Result<std::optional<Reply>> res = std::optional<Reply>{};
  int fed = 0;
  for (; fed < 10000 && res; ++fed) res = r.feed("250-again and again");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, Errc::ReplyTooLong);
  EXPECT_EQ(fed, 257);
}

TEST(ReplyReader, ByteLimitApplies) {
  Limits limits;
  limits.max_reply_bytes = 100;
  ReplyReader r(limits);
  const std::string line = "250-" + std::string(60, 'a');
  auto res = feed_all(r, {line, line});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, Errc::ReplyTooLong);
}

TEST(ReplyReader, ResetsAfterError) {
  ReplyReader r({});
  ASSERT_FALSE(r.feed("garbage"));
  auto ok = r.feed("220 fine");
  ASSERT_TRUE(ok && ok->has_value());
}

}  // namespace
}  // namespace ostls::smtp
