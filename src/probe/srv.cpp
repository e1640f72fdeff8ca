// `ostls probe --srv`: a service domain's SRV RRset (RFC 2782) through the validating resolver,
// its targets in priority/weight order, each probed until one does not defer — as MX hosts are
// (probe.cpp). What the SRV RRset's DNSSEC state decides (RFC 7673 §3.1):
//   bogus, SERVFAIL, timeout  → defer (R9): there is no trustworthy place to connect to;
//   a single "." target       → fail: the service is decidedly not offered (RFC 2782);
//   no SRV records            → the service domain itself on the target's port (RFC 6120
//                               §3.2.2's fallback; plain RFC 6698 DANE at that host, as today);
//   insecure                  → the targets, without DANE, authenticated against the service
//                               domain only (RFC 7673 §4.1);
//   secure                    → the targets with DANE at _port._tcp.<target> (RFC 7673 §3.3),
//                               the target host and the service domain as reference identifiers.
#include "probe/srv.hpp"

#include <array>
#include <memory>
#include <random>

#include <fmt/format.h>

#include "dns/records.hpp"
#include "probe/host.hpp"
#include "report/log_line.hpp"

namespace ostls::probe {
namespace {

using net::Clock;

struct SrvRow {
  std::string_view canonical;  // proto::ProtocolInfo::canonical
  std::string_view service;
};

// clang-format off
constexpr std::array<SrvRow, 8> srv_table{{
  {"imap",        "_imap._tcp"},          // RFC 6186 §3.2
  {"imaps",       "_imaps._tcp"},         // RFC 6186 §3.2
  {"pop3",        "_pop3._tcp"},          // RFC 6186 §3.3
  {"pop3s",       "_pop3s._tcp"},         // RFC 6186 §3.3
  {"submission",  "_submission._tcp"},    // RFC 6186 §3.1
  {"smtps",       "_submissions._tcp"},   // RFC 8314 §5.1 (implicit-TLS submission)
  {"xmpp",        "_xmpp-client._tcp"},   // RFC 6120 §3.2.1
  {"xmpp-server", "_xmpp-server._tcp"},   // RFC 6120 §3.2.1
}};
// clang-format on

// `record` is nullopt for the fallback to the service domain itself.
SrvAttempt attempt_of(const HostJob& job, const std::optional<dns::Srv>& record, const Outcome& o) {
  return {.target = job.host,
          .port = job.port,
          .priority = record ? std::optional(record->priority) : std::nullopt,
          .weight = record ? std::optional(record->weight) : std::nullopt,
          .address = o.address,
          .verdict = o.verdict,
          .protection = o.protection,
          .detail = o.failure ? o.failure->detail : report::log_line(o)};
}

// RFC 2782's weighted choice needs randomness; a generator per lookup, seeded from the system
// (no global state).
dns::Pick system_pick() {
  auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [gen](std::uint64_t bound) { return std::uniform_int_distribution<std::uint64_t>(0, bound)(*gen); };
}

}  // namespace

std::optional<std::string_view> srv_service(const proto::ProtocolInfo& protocol) {
  for (const auto& row : srv_table) {
    if (row.canonical == protocol.canonical) return row.service;
  }
  return std::nullopt;
}

Result<std::string> srv_owner(const Target& t) {
  const auto service = srv_service(t.protocol);
  if (!service) {
    return fail(Errc::Usage, Fault::Config,
                fmt::format("--srv: {} has no SRV service (use it with imap, imaps, pop3, pop3s, submission, smtps, "
                            "xmpp or xmpp-server)",
                            t.protocol.canonical));
  }
  if (t.bracketed || t.is_ip_literal) {
    return fail(Errc::Usage, Fault::Config,
                fmt::format("--srv: \"{}\" names a single host; write the service domain without brackets", t.text));
  }
  return fmt::format("{}.{}", *service, dns::normalize_name(t.host));
}

net::awaitable<Outcome> run_service(const Target& t, const Plan& plan, const Options& options,
                                    net::Watchdog& watchdog, Clock::time_point deadline) {
  const auto start = Clock::now();
  const std::string domain = dns::normalize_name(t.host);
  std::optional<std::string> srv_state;
  auto failed = [&](Verdict v, std::optional<ResultType> type, Fault fault, std::string detail) {
    Outcome o = outcome_for(t, t.host, t.port, plan);
    o.verdict = v;
    o.failure = Failure{.result_type = type, .fault = fault, .detail = std::move(detail)};
    o.srv = std::vector<SrvAttempt>{};
    o.signals.srv = srv_state;
    o.timing.total = ms(start, Clock::now());
    return o;
  };
  const auto owner = srv_owner(t);
  if (!owner) co_return failed(Verdict::Fail, std::nullopt, owner.error().fault, owner.error().detail);
  if (options.resolver == nullptr) {
    co_return failed(Verdict::Fail, std::nullopt, Fault::Config, "--srv needs the validating resolver");
  }

  const auto srv = co_await options.resolver->query(*owner, dns::rrtype::srv, deadline);
  srv_state = std::string(dns::state(srv));
  // RFC 7673 §3.1: a bogus or failed SRV lookup aborts the attempt — at every level (R9).
  if (srv.security == dns::Security::Bogus) {
    co_return failed(Verdict::Defer, ResultType::DnssecInvalid, Fault::Dns,
                     fmt::format("SRV {} is bogus: {}", *owner, srv.why_bogus));
  }
  if (!srv.usable()) {
    co_return failed(Verdict::Defer, std::nullopt, Fault::Dns,
                     fmt::format("SRV lookup for {} failed: {}", *owner, dns::name(srv.rcode)));
  }
  std::vector<dns::Srv> records;
  for (const auto& rd : srv.rdata) {
    auto r = dns::parse_srv(rd);
    if (!r) co_return failed(Verdict::Fail, std::nullopt, Fault::Dns, fmt::format("{}: {}", *owner, r.error().detail));
    records.push_back(std::move(*r));
  }
  if (dns::is_no_service(records)) {
    co_return failed(Verdict::Fail, std::nullopt, Fault::Dns,
                     fmt::format("{} has the SRV target \".\": the service is not offered (RFC 2782)", *owner));
  }

  std::vector<SrvAttempt> tried;
  Outcome last;
  if (records.empty()) {
    // No SRV records (NXDOMAIN or NODATA): RFC 7673 does not apply; the service domain itself,
    // on the target's port, exactly as without --srv.
    const HostJob job{.target = t, .host = domain, .port = t.port};
    last = co_await probe_host(job, plan, options, watchdog, deadline);
    tried.push_back(attempt_of(job, std::nullopt, last));
  } else {
    const SrvOrigin origin{.service_domain = domain, .secure = srv.secure()};
    const auto ordered = dns::order_srv(std::move(records), system_pick());
    for (const auto& r : ordered) {
      if (r.target.empty() || r.port == 0) continue;  // "." among other records, or no port: unusable
      const HostJob job{.target = t,
                        .host = r.target,
                        .port = r.port,
                        .nexthop = origin.secure ? std::optional<std::string>(domain) : std::nullopt,
                        .srv = origin};
      last = co_await probe_host(job, plan, options, watchdog, deadline);
      tried.push_back(attempt_of(job, r, last));
      if (last.verdict != Verdict::Defer) break;  // an SRV target that defers is skipped (RFC 7673 §3.2, §3.4)
    }
    if (tried.empty()) {
      co_return failed(Verdict::Fail, std::nullopt, Fault::Dns, fmt::format("{} has no usable SRV target", *owner));
    }
  }
  last.signals.srv = srv_state;
  last.srv = std::move(tried);
  last.timing.total = ms(start, Clock::now());
  co_return last;
}

}  // namespace ostls::probe
