// `ostls probe` for one target: a single host ([host], IP literal, or any non-SMTP target), or a
// mail domain (smtp://domain): its MX hosts in RFC 5321 §5 order, each probed until one does
// not defer (RFC 7672 §2.2.1 for what the MX RRset's DNSSEC state decides), or with --srv a
// service domain: its SRV targets (probe/srv.cpp). Every outcome of an SMTP destination is
// recorded in the store for TLS-RPT (record_session()).
#include "probe/probe.hpp"

#include <asio/this_coro.hpp>
#include <fmt/format.h>

#include "dns/records.hpp"
#include "net/connect.hpp"
#include "net/watchdog.hpp"
#include "policy/decide.hpp"
#include "probe/host.hpp"
#include "report/log_line.hpp"
#include "report/tlsrpt.hpp"
#include "report/tlsrpt_record.hpp"

namespace ostls::probe {
namespace {

using net::Clock;

bool is_mail_domain(const Target& t) {
  return t.protocol.family == proto::Family::Smtp && !t.protocol.implicit_tls && !t.bracketed && !t.is_ip_literal;
}

// SPEC R12 (RFC 8460): the outcome of one MX host (or of the destination itself, when no host
// was reached) of an smtp:// target, recorded for `ostls report tlsrpt` when a store is in use.
// A record that cannot be written defers the outcome, like every store write (probe/host.cpp):
// it is never lost silently.
void record_session(const asio::any_io_executor& ex, const Target& t, const std::string& policy_domain,
                    bool destination, const Options& options, Outcome& o) {
  if (options.store == nullptr || t.protocol.canonical != "smtp") return;
  const auto record = report::session_record(
      o, {.policy_domain = policy_domain,
          .destination = destination,
          .at = store::now(),
          .sending_address = o.address.empty() ? std::string() : net::source_address(ex, o.address)});
  if (!record) return;
  if (auto w = options.store->record(*record); !w) {
    o.verdict = policy::verdict_for(w.error());
    o.failure = Failure{.result_type = std::nullopt,
                        .fault = w.error().fault,
                        .detail = fmt::format("cannot record the outcome for TLS-RPT: {}", w.error().detail)};
  }
}

Outcome destination_failure(const Target& t, const Plan& plan, Verdict v, Failure f, Clock::time_point start) {
  Outcome o = outcome_for(t, t.host, t.port, plan);
  o.verdict = v;
  o.failure = std::move(f);
  o.mx = std::vector<MxAttempt>{};
  o.timing.total = ms(start, Clock::now());
  return o;
}

net::awaitable<Outcome> run_destination(const Target& t, const Plan& plan, const Options& options,
                                        net::Watchdog& watchdog, Clock::time_point deadline) {
  const auto start = Clock::now();
  const auto ex = co_await asio::this_coro::executor;
  const std::string domain = dns::normalize_name(t.host);
  // Where TLS-RPT reports go (RFC 8460 §3): reported for every smtp:// domain, acted on nowhere.
  std::optional<TlsrptSignal> tlsrpt;
  if (t.protocol.canonical == "smtp") {
    const auto answer = co_await options.resolver->query("_smtp._tls." + domain, dns::rrtype::txt, deadline);
    auto found = report::read_tlsrpt(answer, domain);
    tlsrpt = TlsrptSignal{.state = found.state, .rua = found.policy ? found.policy->rua : std::vector<std::string>{},
                          .error = found.error};
  }

  const auto mx = co_await options.resolver->query(domain, dns::rrtype::mx, deadline);
  const std::string mx_state(dns::state(mx));
  auto failed = [&](Verdict v, std::optional<ResultType> type, Fault fault, std::string detail) {
    auto o = destination_failure(t, plan, v, Failure{.result_type = type, .fault = fault, .detail = std::move(detail)},
                                 start);
    o.signals.mx = mx_state;
    o.signals.tlsrpt = tlsrpt;
    record_session(ex, t, domain, true, options, o);
    return o;
  };
  // A bogus or failed MX lookup defers at every level, `may` included: there is no
  // trustworthy place to connect to (R9).
  if (mx.security == dns::Security::Bogus) {
    co_return failed(Verdict::Defer, ResultType::DnssecInvalid, Fault::Dns,
                     fmt::format("MX of {} is bogus: {}", domain, mx.why_bogus));
  }
  if (!mx.usable()) {
    co_return failed(Verdict::Defer, std::nullopt, Fault::Dns,
                     fmt::format("MX lookup for {} failed: {}", domain, dns::name(mx.rcode)));
  }
  if (mx.rcode == dns::Rcode::NxDomain) {
    co_return failed(Verdict::Fail, std::nullopt, Fault::Dns, fmt::format("{}: no such domain", domain));
  }
  std::vector<dns::Mx> records;
  for (const auto& rd : mx.rdata) {
    auto r = dns::parse_mx(rd);
    if (!r) co_return failed(Verdict::Fail, std::nullopt, Fault::Dns, r.error().detail);
    records.push_back(std::move(*r));
  }
  if (dns::is_null_mx(records)) {
    co_return failed(Verdict::Fail, std::nullopt, Fault::Dns,
                     fmt::format("{} has a null MX (RFC 7505): it accepts no mail", domain));
  }
  records = dns::order_mx(std::move(records));
  if (records.empty()) records.push_back({.preference = 0, .exchange = domain});  // RFC 5321 §5.1 implicit MX

  // MTA-STS (RFC 8461) belongs to `opportunistic`'s signals; explicit levels preempt it (R1).
  std::optional<StsState> sts;
  if (plan.policy.level == Level::Opportunistic) {
    sts = co_await mta_sts_for(domain, options, deadline);
    if (sts->store_error) {
      co_return failed(policy::verdict_for(*sts->store_error), std::nullopt, sts->store_error->fault,
                       fmt::format("MTA-STS policy cache: {}", sts->store_error->detail));
    }
  }

  // RFC 7672 §2.2.1: with a secure MX RRset the next-hop domain is also a reference identifier.
  std::optional<std::string> nexthop;
  if (mx.secure()) nexthop = domain;
  std::vector<MxAttempt> tried;
  Outcome last;
  for (const auto& r : records) {
    if (r.exchange.empty()) continue;  // "." among other MX records: unusable
    // Named, not a temporary inside co_await: g++ 12 destroys such temporaries twice.
    const HostJob job{.target = t, .host = r.exchange, .port = t.port, .nexthop = nexthop,
                      .sts = sts ? &*sts : nullptr};
    last = co_await probe_host(job, plan, options, watchdog, deadline);
    last.signals.tlsrpt = tlsrpt;
    record_session(ex, t, domain, false, options, last);
    tried.push_back({.host = r.exchange,
                     .preference = r.preference,
                     .address = last.address,
                     .verdict = last.verdict,
                     .protection = last.protection,
                     .detail = last.failure ? last.failure->detail : report::log_line(last)});
    // An MX host that defers is skipped, and so is one an enforced MTA-STS policy does not
    // list (RFC 8461 §5.1 step 2: the next candidate is tried).
    const bool unlisted = last.policy.source == PolicySource::MtaSts && last.signals.mta_sts &&
                          !last.signals.mta_sts->mx_match;
    if (last.verdict != Verdict::Defer && !unlisted) break;
  }
  if (tried.empty()) {
    co_return failed(Verdict::Fail, std::nullopt, Fault::Dns, fmt::format("{} has no usable MX host", domain));
  }
  last.signals.mx = mx_state;
  last.mx = std::move(tried);
  last.timing.total = ms(start, Clock::now());
  co_return last;
}

}  // namespace

net::awaitable<Outcome> run(const Target& target, const Options& options) {
  const auto start = Clock::now();
  const auto deadline = start + options.timeout;
  const Plan plan = plan_for(target, options);
  net::Watchdog watchdog(co_await asio::this_coro::executor, options.timeout);
  if (options.srv) co_return co_await run_service(target, plan, options, watchdog, deadline);
  if (is_mail_domain(target) && options.resolver != nullptr) {
    co_return co_await run_destination(target, plan, options, watchdog, deadline);
  }
  const HostJob job{.target = target, .host = target.host, .port = target.port};
  Outcome o = co_await probe_host(job, plan, options, watchdog, deadline);
  const auto ex = co_await asio::this_coro::executor;
  record_session(ex, target, dns::normalize_name(target.host), false, options, o);
  co_return o;
}

}  // namespace ostls::probe
