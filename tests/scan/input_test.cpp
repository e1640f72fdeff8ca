// The scan's input reader (scan/input.hpp): lines split at '\n' whatever the chunking, CRLF
// accepted, an over-long line dropped and reported once while the buffer stays bounded, the last
// line without a newline kept; blank lines and '#' comments are not targets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scan/input.hpp"

namespace ostls::scan {
namespace {

struct Row {
  std::string_view label;
  std::string input;
  std::size_t max_line;
  std::vector<InputLine> want;
};

const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      {"empty", "", 16, {}},
      {"one line", "smtp://a\n", 16, {{1, "smtp://a", false}}},
      {"no final newline", "a\nb", 16, {{1, "a", false}, {2, "b", false}}},
      {"crlf", "a\r\nb\r\n", 16, {{1, "a", false}, {2, "b", false}}},
      {"blank lines kept as lines", "\n\na\n", 16, {{1, "", false}, {2, "", false}, {3, "a", false}}},
      {"exactly max", "0123456789\n", 10, {{1, "0123456789", false}}},
      {"exactly max with CR", "0123456789\r\n", 10, {{1, "0123456789", false}}},
      {"one over max", "0123456789a\nok\n", 10, {{1, "", true}, {2, "ok", false}}},
      {"long line much over max", std::string(100, 'x') + "\nok\n", 10, {{1, "", true}, {2, "ok", false}}},
      {"long last line without newline", "ok\n" + std::string(100, 'x'), 10, {{1, "ok", false}, {2, "", true}}},
      {"lone CR inside a line stays", "a\rb\n", 16, {{1, "a\rb", false}}},
  };
  return r;
}

std::vector<InputLine> split_all(const std::string& input, std::size_t max_line, std::size_t chunk,
                                 std::size_t& peak) {
  LineSplitter s(max_line);
  std::vector<InputLine> out;
  for (std::size_t at = 0; at < input.size(); at += chunk) {
    s.feed(std::string_view(input).substr(at, chunk));
    while (auto l = s.next()) out.push_back(*l);
    peak = std::max(peak, s.buffered());
  }
  if (auto l = s.finish()) out.push_back(*l);
  return out;
}

TEST(LineSplitter, AnyChunking) {
  for (const auto& r : rows()) {
    for (const std::size_t chunk : {1U, 2U, 3U, 7U, 4096U}) {
      SCOPED_TRACE(std::string(r.label) + ", chunks of " + std::to_string(chunk));
      std::size_t peak = 0;
      const auto got = split_all(r.input, r.max_line, chunk, peak);
      ASSERT_EQ(got.size(), r.want.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].number, r.want[i].number);
        EXPECT_EQ(got[i].text, r.want[i].text);
        EXPECT_EQ(got[i].too_long, r.want[i].too_long);
      }
      // Bounded memory: never more than max_line (+ CR) plus one chunk buffered.
      EXPECT_LE(peak, r.max_line + 1 + chunk);
    }
  }
}

TEST(LineSplitter, MemoryBoundedOnHugeLine) {
  LineSplitter s(64);
  const std::string block(1 << 16, 'y');
  for (int i = 0; i < 64; ++i) {  // 4 MiB without a newline
    s.feed(block);
    EXPECT_FALSE(s.next());
    EXPECT_LE(s.buffered(), 65u);
  }
  s.feed("\nsmtp://[a]\n");
  auto first = s.next();
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->too_long);
  auto second = s.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->text, "smtp://[a]");
  EXPECT_EQ(second->number, 2u);
}

TEST(TargetText, BlankAndComments) {
  struct Case {
    std::string_view line;
    std::optional<std::string_view> want;
  };
  const Case cases[] = {
      {"smtp://example.org", "smtp://example.org"},
      {"  smtp://example.org\t ", "smtp://example.org"},
      {"", std::nullopt},
      {"   \t", std::nullopt},
      {"# a comment", std::nullopt},
      {"   # indented comment", std::nullopt},
      {"smtp://a # not a comment: the target parser rejects it", "smtp://a # not a comment: the target parser rejects it"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.line));
    EXPECT_EQ(target_text(c.line), c.want);
  }
}

}  // namespace
}  // namespace ostls::scan
