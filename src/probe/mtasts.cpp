// MTA-STS discovery for one mail domain (RFC 8461 §3, §5.1), before its MX hosts are tried:
//   `_mta-sts.<domain>` TXT → exactly one valid STSv1 record gives the current id;
//   a cached policy that has not outlived its max_age and was fetched under that id is used as is;
//   otherwise the policy is fetched (mtasts/fetch.hpp) and cached under the id;
//   when there is no usable TXT record, or the fetch fails, a cached policy that has not
//   expired still applies; with none the domain is treated as having no MTA-STS.
// What each mode then means for an MX host is probe_host()'s business (host.cpp).
#include <algorithm>

#include <fmt/format.h>

#include "dns/records.hpp"
#include "mtasts/fetch.hpp"
#include "probe/host.hpp"
#include "store/store.hpp"

namespace ostls::probe {
namespace {

using net::Clock;

constexpr std::chrono::milliseconds max_fetch_time{15000};

// The one STSv1 record at _mta-sts.<domain>; nullopt with signal.error set when the lookup
// failed or the records are unusable, nullopt alone when there is none.
net::awaitable<std::optional<mtasts::TxtRecord>> txt_record(const std::string& domain, const Options& o,
                                                           Clock::time_point deadline, MtaStsSignal& signal) {
  const std::string owner = "_mta-sts." + domain;
  const auto txt = co_await o.resolver->query(owner, dns::rrtype::txt, deadline);
  if (!txt.usable()) {
    signal.error = fmt::format("TXT lookup for {} failed: {}", owner,
                               txt.security == dns::Security::Bogus ? "bogus: " + txt.why_bogus : std::string(dns::name(txt.rcode)));
    co_return std::nullopt;
  }
  std::vector<std::string> texts;
  for (const auto& rd : txt.rdata) {
    auto text = dns::parse_txt(rd);
    if (!text) {
      signal.error = fmt::format("{}: {}", owner, text.error().detail);
      signal.error_type = ResultType::StsPolicyInvalid;
      co_return std::nullopt;
    }
    texts.push_back(std::move(*text));
  }
  auto record = mtasts::select_txt(texts);
  if (!record) {
    signal.error = fmt::format("{}: {}", owner, record.error().detail);
    signal.error_type = ResultType::StsPolicyInvalid;
    co_return std::nullopt;
  }
  co_return std::move(*record);
}

// The policy host's addresses through ostls's resolver (DNSSEC is not required by RFC 8461;
// a bogus answer is still refused).
net::awaitable<expected<std::vector<std::string>, std::string>> policy_addresses(const std::string& host,
                                                                                  const Options& o,
                                                                                  Clock::time_point deadline) {
  std::vector<std::string> out;
  std::string problem;
  for (const auto type : {dns::rrtype::a, dns::rrtype::aaaa}) {
    const auto ans = co_await o.resolver->query(host, type, deadline);
    if (ans.security == dns::Security::Bogus) co_return unexpected(fmt::format("{} is bogus: {}", host, ans.why_bogus));
    if (!ans.usable()) {
      problem = fmt::format("cannot resolve {}: {}", host, dns::name(ans.rcode));
      continue;
    }
    for (const auto& rd : ans.rdata) {
      if (auto addr = dns::parse_address(rd, type)) out.push_back(std::move(*addr));
    }
  }
  if (out.empty()) co_return unexpected(problem.empty() ? fmt::format("{} has no address records", host) : problem);
  co_return out;
}

void apply(StsState& s, mtasts::Policy policy, const std::string& policy_id, std::string_view source) {
  auto& sig = s.signal;
  sig.policy_id = policy_id;
  sig.mode = std::string(mtasts::name(policy.mode));
  sig.mx = policy.mx;
  sig.max_age = policy.max_age;
  sig.source = std::string(source);
  s.policy = std::move(policy);
}

}  // namespace

net::awaitable<StsState> mta_sts_for(const std::string& domain, const Options& o, Clock::time_point deadline) {
  StsState s;
  auto& sig = s.signal;
  const auto record = co_await txt_record(domain, o, deadline, sig);
  if (record) sig.txt_id = record->id;

  // What the cache holds, if it is still valid (RFC 8461 §5.1: until fetched_at + max_age).
  std::optional<store::StsCacheEntry> cached;
  std::optional<mtasts::Policy> cached_policy;
  const auto now = store::now();
  if (o.store != nullptr) {
    auto c = o.store->sts_policy(domain);
    if (!c) {
      s.store_error = c.error();
      co_return s;
    }
    if (*c && (*c)->valid_at(now)) {
      if (auto p = mtasts::parse_policy((*c)->body)) {
        cached = std::move(**c);
        cached_policy = std::move(*p);
      }
    }
  }
  if (!record || (cached && cached->policy_id == record->id)) {
    // No usable TXT record (a cached policy outlives it, §3.1), or the id is unchanged.
    if (cached) apply(s, std::move(*cached_policy), cached->policy_id, "cache");
    co_return s;
  }

  // The id is new to us, or nothing valid is cached: fetch.
  const std::string host = mtasts::policy_host(domain);
  auto addresses = co_await policy_addresses(host, o, deadline);
  expected<mtasts::Fetched, mtasts::FetchFailure> fetched =
      unexpected(mtasts::FetchFailure{ResultType::StsPolicyFetchError, addresses ? std::string() : addresses.error()});
  if (addresses) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    // Named, not a temporary inside co_await: g++ 12 destroys such temporaries twice.
    mtasts::FetchRequest request{.domain = domain,
                                 .addresses = std::move(*addresses),
                                 .port = o.mta_sts_port,
                                 .cafile = o.cafile,
                                 .capath = o.capath,
                                 .timeout = std::clamp(left, std::chrono::milliseconds(1), max_fetch_time)};
    fetched = co_await mtasts::fetch(std::move(request));
  }
  if (!fetched) {
    sig.error = fetched.error().detail;
    sig.error_type = fetched.error().type;
    if (cached) apply(s, std::move(*cached_policy), cached->policy_id, "cache");  // §5.1: the cache still applies
    co_return s;
  }
  if (o.store != nullptr) {
    const store::StsCacheEntry entry{.policy_id = record->id,
                                     .body = fetched->body,
                                     .fetched_at = now,
                                     .max_age = static_cast<store::Seconds>(fetched->policy.max_age)};
    if (auto w = o.store->set_sts_policy(domain, entry); !w) s.store_error = w.error();
  }
  apply(s, std::move(fetched->policy), record->id, "fetched");
  co_return s;
}

}  // namespace ostls::probe
