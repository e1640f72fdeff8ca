// The HTML report (scan/html.hpp): expiry arithmetic on ISO 8601 times (positive and negative
// rows), escaping of everything taken from outcomes, self-containment (nothing fetched), every
// chart present, the table bounded.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "scan/html.hpp"

namespace ostls::scan {
namespace {

using nlohmann::json;

// 2026-11-23T00:00:00Z
const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1795392000));

TEST(Html, DaysUntil) {
  struct Case {
    std::string_view iso;
    std::optional<std::int64_t> want;
  };
  const Case cases[] = {
      {"2026-11-23T00:00:00Z", 0},    {"2026-11-23T23:59:59Z", 0},   {"2026-11-24T00:00:00Z", 1},
      {"2026-11-22T23:59:59Z", -1},   {"2026-11-22T00:00:00Z", -1},  {"2026-11-21T23:59:59Z", -2},
      {"2027-11-23T00:00:00Z", 365},  {"2028-11-23T00:00:00Z", 731}, {"2000-01-01T00:00:00Z", -9823},
      {"", std::nullopt},             {"2026-13-01T00:00:00Z", std::nullopt},
      {"2026-11-23 00:00:00Z", std::nullopt}, {"2026-11-23T00:00:00", std::nullopt},
      {"abcd-11-23T00:00:00Z", std::nullopt}, {"2026-11-23T24:00:00Z", std::nullopt},
      {"+026-11-23T00:00:00Z", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.iso));
    EXPECT_EQ(days_until(c.iso, now), c.want);
  }
}

TEST(Html, Escape) {
  EXPECT_EQ(escape_html(R"(<a href="x">'&'</a>)"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(escape_html("smtp://[192.0.2.1]:25"), "smtp://[192.0.2.1]:25");
}

json tls_outcome(std::string target, std::string not_after) {
  return {{"target", target},
          {"verdict", "ok"},
          {"protection", "encrypted"},
          {"auth_method", "none"},
          {"tls", {{"version", "TLSv1.3"}, {"pfs", true}, {"peer", {{"not_after", not_after}}}}},
          {"signals", {{"starttls_offered", true}}}};
}

TEST(Html, SelfContainedEscapedAndComplete) {
  Summary s;
  HtmlReport r(now);
  const json outcomes[] = {
      tls_outcome("smtp://[192.0.2.1]", "2026-11-01T00:00:00Z"),   // expired
      tls_outcome("smtp://[192.0.2.2]", "2026-11-25T00:00:00Z"),   // < 7 days
      tls_outcome("smtp://[192.0.2.3]", "2027-06-01T00:00:00Z"),   // < 1 year
      tls_outcome("<script>alert(1)</script>", "2030-01-01T00:00:00Z"),
      json{{"target", "smtp://[192.0.2.5]"}, {"verdict", "fail"}, {"protection", "cleartext"},
           {"failure", {{"result_type", "starttls-not-supported"}, {"fault", "peer"}}}},
  };
  for (const auto& o : outcomes) {
    s.add(o);
    r.add(o);
  }
  EXPECT_EQ(r.expiry["expired"], 1u);
  EXPECT_EQ(r.expiry["< 7 days"], 1u);
  EXPECT_EQ(r.expiry["< 1 year"], 1u);
  EXPECT_EQ(r.expiry["≥ 1 year"], 1u);
  const auto html = render_html(s, r, "scan of <lab>", "2026-11-23T00:00:00Z");
  EXPECT_EQ(html.find("<script>alert(1)"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("scan of &lt;lab&gt;"), std::string::npos);
  for (const char* fetch : {"src=", "href=", "url(", "@import", "<link"}) {
    EXPECT_EQ(html.find(fetch), std::string::npos) << fetch;
  }
  for (const char* chart : {"protection", "tls-versions", "auth-methods", "verdict", "expiry", "failures", "events"}) {
    EXPECT_NE(html.find(std::string("data-chart=\"") + chart + "\""), std::string::npos) << chart;
  }
  std::size_t rows = 0;
  for (auto at = html.find("<tr><td>"); at != std::string::npos; at = html.find("<tr><td>", at + 1)) ++rows;
  EXPECT_EQ(rows, 5u);
  EXPECT_NE(html.find("data-v=\"-22\""), std::string::npos);  // expired 22 days ago
}

TEST(Html, TableIsBounded) {
  HtmlReport r(now);
  for (std::size_t i = 0; i < limits::max_html_rows + 5; ++i) r.add(tls_outcome("smtp://[192.0.2.1]", ""));
  EXPECT_EQ(r.rows.size(), limits::max_html_rows);
  EXPECT_EQ(r.outcomes, limits::max_html_rows + 5);
  const auto html = render_html(Summary{}, r, "t", "g");
  EXPECT_NE(html.find("The table shows the first 20000 of 20005 targets."), std::string::npos);
}

}  // namespace
}  // namespace ostls::scan
