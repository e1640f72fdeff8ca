#include "report/tlsrpt.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "policy/decide.hpp"

namespace ostls::report {
namespace {

using nlohmann::ordered_json;

constexpr store::Seconds day_seconds = 86400;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

const Event* find_event(const Outcome& o, EventType type) {
  const auto it = std::find_if(o.events.begin(), o.events.end(), [type](const Event& e) { return e.type == type; });
  return it == o.events.end() ? nullptr : &*it;
}

// A cleartext `ok` under an opportunistic level: TLS was possible in principle and not achieved.
std::pair<ResultType, std::string> cleartext_result(const Outcome& o) {
  if (const auto* e = find_event(o, EventType::FallbackToCleartext)) return {ResultType::ValidationFailure, e->detail};
  if (const auto* e = find_event(o, EventType::StarttlsRefused)) return {ResultType::StarttlsNotSupported, e->detail};
  return {ResultType::StarttlsNotSupported, "STARTTLS not offered: the session went on in cleartext"};
}

// One entry of policies[]: policy type, policy strings, mx-host patterns.
using PolicyKey = std::tuple<std::string, std::vector<std::string>, std::vector<std::string>>;
// One entry of failure-details[]: result type, sending ip, receiving host, receiving ip, reason.
using DetailKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;

struct PolicyTally {
  std::size_t successes = 0, failures = 0;
  std::map<DetailKey, std::size_t> details;
};

bool counts(const store::OutcomeRecord& r) { return r.success || r.result_type.has_value(); }

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

// RFC 8460 §4.4 mx-host: the MX patterns of the applied policy. A TLSA RRset belongs to one MX
// host; an MTA-STS policy lists its `mx:` patterns (RFC 8461 §3.2); no policy has none.
PolicyKey policy_key(const store::OutcomeRecord& r) {
  if (r.policy_type == policy_tlsa) {
    return {r.policy_type, r.policy_strings, r.mx_host.empty() ? std::vector<std::string>{} : std::vector{r.mx_host}};
  }
  if (r.policy_type == policy_sts) {
    std::vector<std::string> mx;
    for (const auto& line : r.policy_strings) {
      if (line.starts_with("mx:")) mx.push_back(trim(std::string_view(line).substr(3)));
    }
    return {r.policy_type, r.policy_strings, mx};
  }
  return {std::string(policy_none), {}, {}};
}

ordered_json policy_json(const PolicyKey& key, const std::string& domain, const PolicyTally& t) {
  const auto& [type, strings, mx] = key;
  ordered_json policy = {{"policy-type", type}};
  if (!strings.empty()) policy["policy-string"] = strings;
  policy["policy-domain"] = domain;
  if (!mx.empty()) policy["mx-host"] = mx;
  ordered_json out = {{"policy", policy},
                      {"summary",
                       {{"total-successful-session-count", t.successes}, {"total-failure-session-count", t.failures}}}};
  if (t.details.empty()) return out;
  ordered_json details = ordered_json::array();
  for (const auto& [k, count] : t.details) {
    const auto& [result, sending, host, ip, reason] = k;
    ordered_json d = {{"result-type", result}};
    if (!sending.empty()) d["sending-mta-ip"] = sending;
    if (!host.empty()) d["receiving-mx-hostname"] = host;
    if (!ip.empty()) d["receiving-ip"] = ip;
    d["failed-session-count"] = count;
    if (!reason.empty()) d["failure-reason-code"] = reason;
    details.push_back(std::move(d));
  }
  out["failure-details"] = std::move(details);
  return out;
}

}  // namespace

std::optional<store::OutcomeRecord> session_record(const Outcome& o, const SessionParams& p) {
  if (o.policy.effective == Level::None) return std::nullopt;  // TLS was never attempted
  store::OutcomeRecord r;
  r.at = p.at;
  r.policy_domain = lower(p.policy_domain);
  const bool tlsa = o.policy.source == PolicySource::Dane;
  const auto& sts = o.signals.mta_sts;
  // An MTA-STS policy in mode enforce or testing was in force (a TLSA RRset preempts it).
  const bool sts_policy = !tlsa && sts && (sts->mode == "enforce" || sts->mode == "testing");
  r.policy_type = tlsa ? policy_tlsa : sts_policy ? policy_sts : policy_none;
  if (tlsa && o.signals.tlsa) {
    for (const auto& t : o.signals.tlsa->records) {
      r.policy_strings.push_back(fmt::format("{} {} {} {}", t.usage, t.selector, t.mtype, t.data));
    }
  }
  if (sts_policy) {
    // RFC 8460 §4.4 policy-string: the policy's lines (the registered fields, in RFC 8461 order).
    r.policy_strings = {"version: STSv1", fmt::format("mode: {}", *sts->mode)};
    for (const auto& mx : sts->mx) r.policy_strings.push_back(fmt::format("mx: {}", mx));
    r.policy_strings.push_back(fmt::format("max_age: {}", sts->max_age.value_or(0)));
  }
  r.mx_host = p.destination ? std::string() : lower(o.host);
  r.address = o.address;
  r.sending_address = o.address.empty() ? std::string() : p.sending_address;
  std::optional<ResultType> type;
  const auto sts_testing_failure = [&]() -> std::optional<Failure> {
    if (!sts_policy || sts->mode != "testing") return std::nullopt;
    return policy::sts_check(sts->mx_match.has_value(), o.tls ? &*o.tls : nullptr);
  };
  if (!tlsa && !sts_policy && sts && sts->error_type) {
    // The domain announced MTA-STS but no policy could be had (and none was cached): that is
    // the failure to report, whatever the session did next without one.
    r.policy_type = policy_sts;
    type = sts->error_type;
    r.detail = sts->error.value_or("");
  } else if (o.verdict == Verdict::Ok && o.tls) {
    if (const auto f = sts_testing_failure()) {
      type = f->result_type;
      r.detail = f->detail;
    } else {
      r.success = true;
    }
  } else if (o.verdict == Verdict::Ok) {
    auto [t, detail] = cleartext_result(o);
    type = t;
    r.detail = std::move(detail);
  } else if (o.failure) {
    type = o.failure->result_type;
    r.detail = o.failure->detail;
  }
  if (type) r.result_type = std::string(name(*type));
  return r;
}

std::size_t session_count(const std::vector<store::OutcomeRecord>& records) {
  return static_cast<std::size_t>(std::count_if(records.begin(), records.end(), counts));
}

nlohmann::ordered_json aggregate(const ReportParams& p, const std::vector<store::OutcomeRecord>& records) {
  std::map<PolicyKey, PolicyTally> policies;
  for (const auto& r : records) {
    if (!counts(r)) continue;  // no TLS session: refused connection, SERVFAIL, …
    auto& t = policies[policy_key(r)];
    if (r.success) {
      ++t.successes;
      continue;
    }
    ++t.failures;
    ++t.details[{*r.result_type, r.sending_address, r.mx_host, r.address, r.detail}];
  }
  ordered_json list = ordered_json::array();
  for (const auto& [key, tally] : policies) list.push_back(policy_json(key, p.policy_domain, tally));
  ordered_json report = {{"organization-name", p.organization},
                         {"date-range",
                          {{"start-datetime", store::iso_time(p.day)},
                           {"end-datetime", store::iso_time(p.day + day_seconds - 1)}}},
                         {"contact-info", p.contact},
                         {"report-id", p.report_id},
                         {"policies", std::move(list)}};
  return report;
}

Result<store::Seconds> parse_day(std::string_view text) {
  const auto bad = [&] {
    return fail(Errc::Usage, Fault::Config, fmt::format("\"{}\" is not a date: expected YYYY-MM-DD", text));
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  int parts[3] = {0, 0, 0};
  const std::pair<std::size_t, std::size_t> spans[3] = {{0, 4}, {5, 2}, {8, 2}};
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t k = 0; k < spans[i].second; ++k) {
      const char c = text[spans[i].first + k];
      if (c < '0' || c > '9') return bad();
      parts[i] = parts[i] * 10 + (c - '0');
    }
  }
  const std::chrono::year_month_day ymd{std::chrono::year{parts[0]}, std::chrono::month{static_cast<unsigned>(parts[1])},
                                        std::chrono::day{static_cast<unsigned>(parts[2])}};
  if (!ymd.ok() || parts[0] < 1970) {
    return fail(Errc::Usage, Fault::Config, fmt::format("{} is not a calendar date (UTC, 1970 or later)", text));
  }
  return static_cast<store::Seconds>(std::chrono::sys_seconds{std::chrono::sys_days{ymd}}.time_since_epoch().count());
}

std::string report_filename(const FilenameParams& p) {
  return fmt::format("{}!{}!{}!{}.{}", p.sender, p.policy_domain, p.day, p.day + day_seconds - 1,
                     p.gzip ? "json.gz" : "json");
}

}  // namespace ostls::report
