// `ostls scan --html REPORT.html`: one self-contained HTML file (no fetches when opened: inline
// CSS, inline SVG charts, a few lines of inline script) with the charts of a scan's summary —
// protection shares, TLS versions, auth methods, certificate expiry, failures by reason, downgrade
// indicators — and a sortable table of the targets (click a column head; `#sort=COLUMN` or
// `#sort=-COLUMN` in the URL sorts on load). Built from the JSON Lines of the scan after it ends,
// so a resumed scan's report covers the whole file. Every text from the outcomes is escaped.
// Pure: values in, a string out; the caller reads the file and writes the report.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "scan/summary.hpp"

namespace ostls::scan {

namespace limits {
inline constexpr std::size_t max_html_rows = 20000;  // table rows; the charts count every target
}  // namespace limits

// What the report needs beyond the Summary: the table's rows and the certificate expiry
// histogram (days from `now` to tls.peer.not_after).
class HtmlReport {
public:
  explicit HtmlReport(std::chrono::system_clock::time_point now);
  void add(const nlohmann::json& outcome);

  struct Row {
    std::string target, verdict, protection, auth_method, version, not_after, failure;
    std::optional<std::int64_t> days_left;
  };
  std::vector<Row> rows;       // the first max_html_rows outcomes
  std::uint64_t outcomes = 0;  // all of them
  Tally expiry;                // expired, < 7 days, < 30 days, < 90 days, < 1 year, ≥ 1 year

private:
  std::chrono::system_clock::time_point now_;
};

// Days from `now` to an ISO 8601 UTC time "YYYY-MM-DDTHH:MM:SSZ" (as in tls.peer.not_after),
// rounded down; nullopt when the text is not such a time.
[[nodiscard]] std::optional<std::int64_t> days_until(std::string_view iso, std::chrono::system_clock::time_point now);

[[nodiscard]] std::string escape_html(std::string_view text);

// `title` and `generated` (a time, in words) go into the heading.
[[nodiscard]] std::string render_html(const Summary& s, const HtmlReport& r, std::string_view title,
                                      std::string_view generated);

}  // namespace ostls::scan
