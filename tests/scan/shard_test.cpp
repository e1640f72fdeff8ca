// --shard I/N (scan/shard.hpp): the syntax; the normalized text (spellings of one target share
// a shard); the split is a partition (every target in exactly one shard) and roughly even; FNV-1a
// is the published function (stable across builds and platforms).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "scan/shard.hpp"

namespace ostls::scan {
namespace {

TEST(Shard, Parse) {
  struct Case {
    std::string_view text;
    bool ok;
    std::uint32_t index = 0, count = 0;
  };
  const Case cases[] = {
      {"1/1", true, 1, 1}, {"2/4", true, 2, 4}, {"4/4", true, 4, 4}, {"0/4", false}, {"5/4", false},
      {"1/0", false},      {"1", false},        {"/4", false},       {"1/", false},  {"a/b", false},
      {"1/4x", false},     {"-1/4", false},     {"1/4/2", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.text));
    const auto s = parse_shard(c.text);
    ASSERT_EQ(s.has_value(), c.ok);
    if (!c.ok) continue;
    EXPECT_EQ(s->index, c.index);
    EXPECT_EQ(s->count, c.count);
  }
}

TEST(Shard, Normalized) {
  struct Case {
    std::string_view text, want;
  };
  const Case cases[] = {
      {"smtp://example.org", "smtp://example.org:25"},
      {"smtp://Example.ORG.", "smtp://example.org:25"},
      {"smtp://example.org:25", "smtp://example.org:25"},
      {"smtp://[MX.example.org]", "smtp://[mx.example.org]:25"},
      {"smtp://[mx.example.org]:25/", "smtp://[mx.example.org]:25"},
      {"imaps://[192.0.2.1]", "imaps://[192.0.2.1]:993"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.text));
    const auto t = probe::parse_target(c.text);
    ASSERT_TRUE(t);
    EXPECT_EQ(normalized(*t), c.want);
  }
}

TEST(Shard, Fnv1aVectors) {
  EXPECT_EQ(fnv1a(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a("foobar"), 0x85944171f73967e8ULL);
}

TEST(Shard, PartitionAndBalance) {
  constexpr std::uint32_t shards = 4;
  constexpr int targets = 2000;
  std::array<int, shards> sizes{};
  for (int i = 0; i < targets; ++i) {
    const auto t = probe::parse_target(fmt::format("smtp://[10.0.{}.{}]:{}", i / 250, i % 250, 25 + i % 3));
    ASSERT_TRUE(t);
    int in = 0;
    for (std::uint32_t k = 1; k <= shards; ++k) {
      if (in_shard(*t, {.index = k, .count = shards})) {
        ++in;
        ++sizes[k - 1];
      }
    }
    EXPECT_EQ(in, 1) << t->text;
  }
  for (const int n : sizes) {
    EXPECT_GT(n, targets / static_cast<int>(shards) * 8 / 10);
    EXPECT_LT(n, targets / static_cast<int>(shards) * 12 / 10);
  }
}

TEST(Shard, SpellingsOfOneTargetShareAShard) {
  const auto a = probe::parse_target("smtp://[MX.Example.org]:25");
  const auto b = probe::parse_target("smtp://[mx.example.org]");
  ASSERT_TRUE(a && b);
  for (std::uint32_t k = 1; k <= 7; ++k) {
    EXPECT_EQ(in_shard(*a, {.index = k, .count = 7}), in_shard(*b, {.index = k, .count = 7}));
  }
}

}  // namespace
}  // namespace ostls::scan
