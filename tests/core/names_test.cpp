// Every closed vocabulary prints and parses through one table (STYLE habit 2): round trips,
// the SPEC §1 spellings, and the level property columns.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/level.hpp"
#include "core/outcome.hpp"

namespace ostls {
namespace {

TEST(Level, RoundTripsEveryLevel) {
  for (int i = 0; i <= static_cast<int>(Level::Opportunistic); ++i) {
    const auto level = static_cast<Level>(i);
    SCOPED_TRACE(std::string(name(level)));
    EXPECT_EQ(parse_level(name(level)), level);
    EXPECT_EQ(info(level).value, level);
  }
  EXPECT_FALSE(parse_level("strict").has_value());
  EXPECT_FALSE(parse_level("").has_value());
  EXPECT_FALSE(parse_level("MAY").has_value()) << "names are lower case, as in Postfix";
}

// SPEC §1 table: the meaning of each level as columns.
struct LevelRow {
  const char* name;
  bool requires_tls, authenticates, pkix, opportunistic;
};
constexpr LevelRow level_rows[] = {
    {"none", false, false, false, false},       {"may", false, false, false, true},
    {"encrypt", true, false, false, false},     {"fingerprint", true, true, false, false},
    {"tofu", true, true, false, false},         {"dane", false, false, false, true},
    {"dane-only", true, true, false, false},    {"verify", true, true, true, false},
    {"secure", true, true, true, false},        {"opportunistic", false, false, false, true},
};

TEST(Level, PropertiesFollowSpec) {
  for (const auto& row : level_rows) {
    SCOPED_TRACE(row.name);
    const auto level = parse_level(row.name);
    ASSERT_TRUE(level);
    EXPECT_EQ(requires_tls(*level), row.requires_tls);
    EXPECT_EQ(authenticates(*level), row.authenticates);
    EXPECT_EQ(needs_pkix(*level), row.pkix);
    EXPECT_EQ(is_opportunistic(*level), row.opportunistic);
  }
}

TEST(Outcome, VocabularySpellings) {
  EXPECT_EQ(name(Protection::Cleartext), "cleartext");
  EXPECT_EQ(name(Protection::Authenticated), "authenticated");
  EXPECT_EQ(name(AuthMethod::DaneEe), "dane-ee");
  EXPECT_EQ(name(AuthMethod::MtaSts), "mta-sts");
  EXPECT_EQ(name(Trust::Untrusted), "Untrusted");
  EXPECT_EQ(name(Verdict::Defer), "defer");
  EXPECT_EQ(name(ResultType::StarttlsNotSupported), "starttls-not-supported");
  EXPECT_EQ(name(ResultType::StsWebpkiInvalid), "sts-webpki-invalid");
  EXPECT_EQ(name(Fault::Peer), "peer");
  EXPECT_EQ(name(Errc::LineTooLong), "line-too-long");
}

TEST(Outcome, EventTypesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(EventType::DowngradeSuspected); ++i) {
    const auto type = static_cast<EventType>(i);
    EXPECT_EQ(parse_event_type(name(type)), type) << name(type);
  }
  EXPECT_FALSE(parse_event_type("nonsense").has_value());
}

}  // namespace
}  // namespace ostls
