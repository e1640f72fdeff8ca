// DNS for one host: address records through the validating resolver, then TLSA per RFC 7672
// §2.2 (only when the address records are secure; CNAME-expanded name first, §2.2.2). For an
// SRV target (RFC 7673 §3) also only when the SRV RRset was secure.
#include <fmt/format.h>

#include "dns/records.hpp"
#include "probe/host.hpp"

namespace ostls::probe {
namespace {

bool wants_dane(Level asked) {
  return asked == Level::Dane || asked == Level::DaneOnly || asked == Level::Opportunistic;
}

std::string tlsa_owner(std::uint16_t port, const std::string& host) { return fmt::format("_{}._tcp.{}", port, host); }

}  // namespace

net::awaitable<HostDns> discover(const HostJob& job, Level asked, const Options& o, net::Clock::time_point deadline) {
  HostDns d;
  d.canonical = dns::normalize_name(job.host);
  if (job.host == job.target.host && job.target.is_ip_literal) {
    d.addresses = {job.host};  // no DNS at all: no DANE either
    co_return d;
  }
  if (o.resolver == nullptr) co_return d;  // the system resolver will find the addresses

  auto a = co_await o.resolver->query(job.host, dns::rrtype::a, deadline);
  auto aaaa = co_await o.resolver->query(job.host, dns::rrtype::aaaa, deadline);
  for (const auto* ans : {&a, &aaaa}) {
    if (ans->security == dns::Security::Bogus) {
      d.address_state = "bogus";
      d.stop = Verdict::Defer;  // R9
      d.failure = Failure{.result_type = ResultType::DnssecInvalid, .fault = Fault::Dns,
                          .detail = fmt::format("address records of {} are bogus: {}", job.host, ans->why_bogus)};
      co_return d;
    }
  }
  if (!a.usable() && !aaaa.usable()) {
    d.address_state = "servfail";
    d.stop = Verdict::Defer;
    d.failure = Failure{.fault = Fault::Dns, .detail = fmt::format("cannot resolve {}: {} {}", job.host,
                                                                    dns::name(a.rcode), a.why_bogus)};
    co_return d;
  }
  bool secure = true;
  for (const auto* ans : {&a, &aaaa}) {
    if (!ans->usable()) continue;
    secure = secure && ans->secure();
    for (const auto& rd : ans->rdata) {
      if (auto addr = dns::parse_address(rd, ans->qtype)) d.addresses.push_back(*addr);
    }
  }
  d.address_state = secure ? "secure" : "insecure";
  if (a.has_data()) d.canonical = a.canonical;
  else if (aaaa.has_data()) d.canonical = aaaa.canonical;
  if (d.addresses.empty()) {
    d.stop = Verdict::Defer;
    d.failure = Failure{.fault = Fault::Dns, .detail = fmt::format("{} has no address records ({})", job.host,
                                                                    dns::name(a.rcode))};
    co_return d;
  }

  if (!wants_dane(asked)) co_return d;
  d.tlsa_asked = true;
  // RFC 7672 §3.1.3 (no PKIX-TA/EE) governs SMTP relay; a submission server found through
  // SRV is under RFC 7673, which keeps every RFC 6698 usage.
  const bool smtp = !job.srv && (job.target.protocol.family == proto::Family::Smtp ||
                                 job.target.protocol.family == proto::Family::Lmtp);
  if (job.srv && !job.srv->secure) {
    // RFC 7673 §3.1: an insecure SRV RRset means no DANE at its targets, whatever their TLSA.
    d.tlsa.state = dane::TlsaState::Insecure;
    d.tlsa.owner = tlsa_owner(job.port, dns::normalize_name(job.host));
    d.tlsa.detail = "the SRV RRset is insecure";
    co_return d;
  }
  if (!secure) {
    // RFC 7672 §2.2: no DANE for a host whose addresses are not DNSSEC-validated.
    d.tlsa.state = dane::TlsaState::Insecure;
    d.tlsa.owner = tlsa_owner(job.port, dns::normalize_name(job.host));
    co_return d;
  }
  std::vector<std::string> names{d.canonical};
  if (d.canonical != dns::normalize_name(job.host)) names.push_back(dns::normalize_name(job.host));
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto ans = co_await o.resolver->query(tlsa_owner(job.port, names[i]), dns::rrtype::tlsa, deadline);
    d.tlsa = dane::classify(ans, smtp);
    // RFC 7672 §2.2.2: no TLSA at the expanded name (securely) → try the original name.
    if (d.tlsa.state != dane::TlsaState::NoRecords) break;
  }
  co_return d;
}

}  // namespace ostls::probe
