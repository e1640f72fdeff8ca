// R1 explicit policy: Postfix smtp_tls_policy_maps syntax (postconf(5), TLS_README "Per-site
// TLS policies"), lookup order [host]:port, [host], domain, .domain.
#include <gtest/gtest.h>

#include "policy/policy_map.hpp"

namespace ostls::policy {
namespace {

constexpr std::string_view sample = R"(# site policies
[mx.example.org]:2525  verify match=mx.example.org:.example.org protocols=>=TLSv1.2
[mx.example.org]       encrypt
example.org            may
.example.org           fingerprint
    match=AB:CD:EF|0123abcd
legacy.test            encrypt ciphers=LOW servername=real.legacy.test
)";

TEST(PolicyMap, ParsesPostfixSyntax) {
  auto map = PolicyMap::parse(sample, "sample");
  ASSERT_TRUE(map) << map.error().detail;
  EXPECT_EQ(map->size(), 5u);
  const auto* e = map->lookup("mx.example.org", 2525);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->level, Level::Verify);
  EXPECT_EQ(e->match, (std::vector<std::string>{"mx.example.org", ".example.org"}));
  EXPECT_EQ(e->protocols, ">=TLSv1.2");
  EXPECT_EQ(e->line, 2);
  const auto* fp = map->lookup("a.b.example.org", 25);
  ASSERT_NE(fp, nullptr);
  EXPECT_EQ(fp->level, Level::Fingerprint);
  EXPECT_EQ(fp->match, (std::vector<std::string>{"AB:CD:EF", "0123abcd"})) << "continuation line joined";
  EXPECT_EQ(map->lookup("legacy.test", 25)->ciphers, "low");
  EXPECT_EQ(map->lookup("legacy.test", 25)->servername, "real.legacy.test");
}

struct LookupRow {
  const char* host;
  std::uint16_t port;
  const char* expected_key;  // nullptr: no entry
};
constexpr LookupRow lookup_rows[] = {
    {"mx.example.org", 2525, "[mx.example.org]:2525"},  // most specific
    {"mx.example.org", 25, "[mx.example.org]"},
    {"MX.Example.ORG", 25, "[mx.example.org]"},         // case-insensitive
    {"example.org", 25, "example.org"},
    {"sub.example.org", 25, ".example.org"},
    {"deep.sub.example.org", 25, ".example.org"},
    {"example.com", 25, nullptr},
    {"notexample.org", 25, nullptr},                   // ".example.org" is a label boundary
    {"org", 25, nullptr},
};

TEST(PolicyMap, StickyIsAFlag) {
  auto map = PolicyMap::parse("[mx.example.net] may sticky\nexample.net encrypt\n", "t");
  ASSERT_TRUE(map) << map.error().detail;
  EXPECT_TRUE(map->lookup("mx.example.net", 25)->sticky);
  EXPECT_EQ(map->lookup("mx.example.net", 25)->to_string(), "[mx.example.net] may sticky");
  EXPECT_FALSE(map->lookup("example.net", 25)->sticky);
}

TEST(PolicyMap, LookupMostSpecificFirst) {
  auto map = PolicyMap::parse(sample, "sample");
  ASSERT_TRUE(map);
  for (const auto& row : lookup_rows) {
    SCOPED_TRACE(std::string(row.host) + ":" + std::to_string(row.port));
    const auto* e = map->lookup(row.host, row.port);
    if (row.expected_key == nullptr) {
      EXPECT_EQ(e, nullptr);
    } else {
      ASSERT_NE(e, nullptr);
      EXPECT_EQ(e->key, row.expected_key);
    }
  }
}

TEST(PolicyMap, LookupKeysForIpLiteralsHaveNoParents) {
  EXPECT_EQ(lookup_keys("192.0.2.1", 25), (std::vector<std::string>{"[192.0.2.1]:25", "[192.0.2.1]", "192.0.2.1"}));
}

struct BadMap {
  const char* label;
  std::string_view text;
  const char* message;
};
constexpr BadMap bad_maps[] = {
    {"unknown level", "example.org strict\n", ":1: unknown security level"},
    {"missing level", "example.org\n", ":1: expected"},
    {"unknown attribute", "example.org may colour=blue\n", ":1: unknown attribute"},
    {"attribute without =", "example.org may match\n", ":1: expected attribute=value"},
    {"fingerprint without match", "\n\nexample.org fingerprint\n", ":3: level fingerprint needs"},
    {"duplicate", "a.org may\na.org encrypt\n", ":2: duplicate destination"},
    {"bad protocols", "a.org encrypt protocols=!TLSv1.1\n", ":1: protocols"},
    {"bad cipher grade", "a.org encrypt ciphers=strong\n", ":1: unknown cipher grade"},
};

TEST(PolicyMap, ErrorsNameTheLine) {
  for (const auto& c : bad_maps) {
    SCOPED_TRACE(c.label);
    auto map = PolicyMap::parse(c.text, "file");
    ASSERT_FALSE(map);
    EXPECT_EQ(map.error().fault, Fault::Config);
    EXPECT_NE(map.error().detail.find(c.message), std::string::npos) << map.error().detail;
  }
}

TEST(PolicyMap, CommentsAndBlankLines) {
  auto map = PolicyMap::parse("  # indented comment\n\n# x\nexample.org may # trailing words are fields\n", "f");
  ASSERT_FALSE(map) << "Postfix has no trailing comments: '#' is an attribute here";
  auto ok = PolicyMap::parse("  # indented comment\n\n# x\nexample.org may\n", "f");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), 1u);
}

TEST(PolicyMap, EntryPrintsItself) {
  auto map = PolicyMap::parse(sample, "sample");
  ASSERT_TRUE(map);
  EXPECT_EQ(map->lookup("mx.example.org", 2525)->to_string(),
            "[mx.example.org]:2525 verify match=mx.example.org:.example.org protocols=>=TLSv1.2");
}

TEST(PolicyMap, LoadMissingFile) {
  auto map = PolicyMap::load("/nonexistent/policy");
  ASSERT_FALSE(map);
  EXPECT_EQ(map.error().code, Errc::Usage);
}

}  // namespace
}  // namespace ostls::policy
