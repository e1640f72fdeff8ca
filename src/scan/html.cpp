#include "scan/html.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ostls::scan {
namespace {

using nlohmann::json;

// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool number(std::string_view text, unsigned& out) {
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return !text.empty() && ec == std::errc{} && ptr == end;
}

std::string text_at(const json& o, std::initializer_list<const char*> path) {
  const json* cur = &o;
  for (const char* key : path) {
    if (!cur->is_object()) return {};
    const auto it = cur->find(key);
    if (it == cur->end()) return {};
    cur = &*it;
  }
  return cur->is_string() ? cur->get<std::string>() : std::string();
}

constexpr std::array<std::string_view, 6> expiry_buckets{"expired",  "< 7 days", "< 30 days",
                                                         "< 90 days", "< 1 year", "≥ 1 year"};

std::string_view bucket(std::int64_t days) {
  if (days < 0) return expiry_buckets[0];
  if (days < 7) return expiry_buckets[1];
  if (days < 30) return expiry_buckets[2];
  if (days < 90) return expiry_buckets[3];
  if (days < 365) return expiry_buckets[4];
  return expiry_buckets[5];
}

// A horizontal bar chart as inline SVG: one bar per name, its count and share.
std::string bar_chart(std::string_view id, std::string_view title, const Tally& t, std::uint64_t of,
                      bool skip_zero = true) {
  std::vector<std::pair<std::string, std::uint64_t>> rows;
  for (const auto& r : t.rows()) {
    if (!skip_zero || r.second > 0) rows.push_back(r);
  }
  constexpr int label_w = 230, bar_w = 360, row_h = 22;
  const int height = std::max<int>(1, static_cast<int>(rows.size())) * row_h + 6;
  std::uint64_t max = 1;
  for (const auto& r : rows) max = std::max(max, r.second);
  std::string svg = fmt::format(
      "<figure class=\"chart\" data-chart=\"{}\"><figcaption>{}</figcaption>"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\">",
      id, escape_html(title), label_w + bar_w + 120, height, escape_html(title));
  if (rows.empty()) svg += fmt::format("<text x=\"0\" y=\"16\" class=\"none\">none</text>");
  int y = 3;
  for (const auto& [name, count] : rows) {
    const double w = static_cast<double>(bar_w) * static_cast<double>(count) / static_cast<double>(max);
    const double pct = of == 0 ? 0 : 100.0 * static_cast<double>(count) / static_cast<double>(of);
    svg += fmt::format(
        "<g class=\"bar\"><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>"
        "<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\"/>"
        "<text x=\"{:.1f}\" y=\"{}\" class=\"n\">{} ({:.1f}%)</text></g>",
        label_w - 8, y + 15, escape_html(name), label_w, y + 2, w, row_h - 6, label_w + w + 6, y + 15, count, pct);
    y += row_h;
  }
  return svg + "</svg></figure>\n";
}

constexpr std::string_view style = R"(<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px}figure{display:inline-block;vertical-align:top;margin:0 24px 24px 0}
figcaption{font-weight:600;margin-bottom:4px}svg text{font-size:12px;fill:#222}svg rect{fill:#3b6ea5}
svg text.n{fill:#555}table{border-collapse:collapse;font-size:12px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left}
th{background:#eee;cursor:pointer;user-select:none}th[data-dir=asc]::after{content:" ▲"}th[data-dir=desc]::after{content:" ▼"}
td.authenticated{color:#11702a}td.cleartext{color:#a02020}.meta{color:#555}
</style>)";

// Sorting the table: click a column head (again to reverse); #sort=COL or #sort=-COL on load.
constexpr std::string_view script = R"(<script>
(function(){
var table=document.getElementById('targets'),heads=table.tHead.rows[0].cells,body=table.tBodies[0];
function sort(i,dir){
  var num=heads[i].getAttribute('data-type')==='num',rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){
    var x=a.cells[i].getAttribute('data-v'),y=b.cells[i].getAttribute('data-v');
    if(x===null)x=a.cells[i].textContent;if(y===null)y=b.cells[i].textContent;
    var c=num?(parseFloat(x)||0)-(parseFloat(y)||0):x.localeCompare(y);return dir*c;});
  rows.forEach(function(r){body.appendChild(r);});
  for(var k=0;k<heads.length;k++)heads[k].removeAttribute('data-dir');
  heads[i].setAttribute('data-dir',dir>0?'asc':'desc');
}
for(var i=0;i<heads.length;i++)(function(i){heads[i].addEventListener('click',function(){
  sort(i,heads[i].getAttribute('data-dir')==='asc'?-1:1);});})(i);
var m=/sort=(-?)(\w+)/.exec(location.hash);
if(m)for(var j=0;j<heads.length;j++)if(heads[j].getAttribute('data-col')===m[2])sort(j,m[1]?-1:1);
document.body.setAttribute('data-ready','1');
})();
</script>)";

}  // namespace

HtmlReport::HtmlReport(std::chrono::system_clock::time_point now) : now_(now) {
  for (const auto b : expiry_buckets) expiry.seed(b);
}

void HtmlReport::add(const nlohmann::json& o) {
  if (!o.is_object()) return;
  ++outcomes;
  const auto not_after = text_at(o, {"tls", "peer", "not_after"});
  const auto days = days_until(not_after, now_);
  if (days) expiry.add(bucket(*days));
  if (rows.size() >= limits::max_html_rows) return;
  rows.push_back({.target = text_at(o, {"target"}),
                  .verdict = text_at(o, {"verdict"}),
                  .protection = text_at(o, {"protection"}),
                  .auth_method = text_at(o, {"auth_method"}),
                  .version = text_at(o, {"tls", "version"}),
                  .not_after = not_after,
                  .failure = text_at(o, {"failure", "result_type"}),
                  .days_left = days});
}

std::optional<std::int64_t> days_until(std::string_view iso, std::chrono::system_clock::time_point now) {
  // YYYY-MM-DDTHH:MM:SSZ
  if (iso.size() != 20 || iso[4] != '-' || iso[7] != '-' || iso[10] != 'T' || iso[13] != ':' || iso[16] != ':' ||
      iso[19] != 'Z') {
    return std::nullopt;
  }
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!number(iso.substr(0, 4), y) || !number(iso.substr(5, 2), mo) || !number(iso.substr(8, 2), d) ||
      !number(iso.substr(11, 2), h) || !number(iso.substr(14, 2), mi) || !number(iso.substr(17, 2), s) ||
      mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  const std::int64_t at = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  const std::int64_t current = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::int64_t diff = at - current;
  return diff >= 0 ? diff / 86400 : -((-diff + 86399) / 86400);
}

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_html(const Summary& s, const HtmlReport& r, std::string_view title, std::string_view generated) {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>{1}</head><body>\n"
      "<h1>{0}</h1>\n<p class=\"meta\">{2} targets · generated {3} by ostls scan</p>\n",
      escape_html(title), style, s.targets, escape_html(generated));
  Tally tls_versions = s.tls.versions;
  tls_versions.add("no TLS", s.targets - std::min(s.targets, s.tls.sessions));
  out += "<section id=\"charts\">\n";
  out += bar_chart("protection", "Protection", s.protection, s.targets, false);
  out += bar_chart("tls-versions", "TLS versions", tls_versions, s.targets);
  out += bar_chart("auth-methods", "Authentication", s.auth_method, s.targets);
  out += bar_chart("verdict", "Verdict", s.verdict, s.targets, false);
  out += bar_chart("expiry", "Certificate expiry (days left)", r.expiry, s.tls.sessions, false);
  out += bar_chart("failures", "Failures by reason (RFC 8460 result type)", s.result_type, s.targets);
  out += bar_chart("events", "Downgrade indicators and other events", s.events, s.targets);
  out += "</section>\n";
  if (r.rows.size() < r.outcomes) {
    out += fmt::format("<p class=\"meta\">The table shows the first {} of {} targets.</p>\n", r.rows.size(),
                       r.outcomes);
  }
  out +=
      "<table id=\"targets\"><thead><tr><th data-col=\"target\">target</th><th data-col=\"verdict\">verdict</th>"
      "<th data-col=\"protection\">protection</th><th data-col=\"auth\">auth method</th>"
      "<th data-col=\"tls\">TLS</th><th data-col=\"days\" data-type=\"num\">certificate days left</th>"
      "<th data-col=\"failure\">failure</th></tr></thead><tbody>\n";
  for (const auto& row : r.rows) {
    out += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td>", escape_html(row.target),
                       escape_html(row.verdict), escape_html(row.protection), escape_html(row.protection),
                       escape_html(row.auth_method), escape_html(row.version));
    if (row.days_left) {
      out += fmt::format("<td data-v=\"{}\" title=\"{}\">{}</td>", *row.days_left, escape_html(row.not_after),
                         *row.days_left);
    } else {
      out += "<td data-v=\"\"></td>";
    }
    out += fmt::format("<td>{}</td></tr>\n", escape_html(row.failure));
  }
  out += "</tbody></table>\n";
  out += script;
  out += "\n</body></html>\n";
  return out;
}

}  // namespace ostls::scan
