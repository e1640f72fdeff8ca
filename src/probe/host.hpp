// Internal to probe/: one host of a target — its DNS (addresses, TLSA), the DANE effect on the
// level (R8, R9), the connection, the STARTTLS dialogue, the R2 retry, the decision.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/outcome.hpp"
#include "dane/dane.hpp"
#include "mtasts/policy.hpp"
#include "net/channel.hpp"
#include "net/watchdog.hpp"
#include "probe/probe.hpp"

namespace ostls::probe {

// The policy applied to a destination: an explicit policy-map entry preempts the default (R1).
struct Plan {
  PolicyApplied policy;  // `effective` is still the asked level here; DNS may change it per host
  std::vector<std::string> match;
  std::optional<std::string> servername;  // explicit SNI + reference identifier
  std::optional<std::string> protocols, ciphers;
  bool sticky = false;  // R11: a suspected downgrade fails (--sticky, or `sticky` in the policy map)
};

[[nodiscard]] Plan plan_for(const Target& t, const Options& o);

// Where an SRV target came from (--srv, RFC 7673).
struct SrvOrigin {
  std::string service_domain;  // the command-line target's host, normalized
  bool secure = false;         // the SRV RRset was DNSSEC-secure
};

// MTA-STS (RFC 8461) for one mail domain, decided once before its MX hosts are tried
// (probe/mtasts.cpp): the TXT record, the cache, a fetch when the id changed or nothing valid is
// cached, and the cached policy when the fetch fails (§5.1).
struct StsState {
  std::optional<mtasts::Policy> policy;  // the policy in force (any mode); nullopt: none
  MtaStsSignal signal;
  std::optional<Error> store_error;      // the cache could not be read or written: defer
};

[[nodiscard]] net::awaitable<StsState> mta_sts_for(const std::string& domain, const Options& options,
                                                   net::Clock::time_point deadline);

struct HostJob {
  const Target& target;
  std::string host;                    // the host to connect to (an MX exchange, an SRV target or the target host)
  std::uint16_t port = 0;
  std::optional<std::string> nexthop;  // the destination domain, when its MX (or SRV) RRset was secure
  std::optional<SrvOrigin> srv;        // set when `host` is an SRV target
  const StsState* sts = nullptr;       // the destination's MTA-STS state (opportunistic smtp:// domains)
};

// What DNS said about one host.
struct HostDns {
  std::vector<std::string> addresses;  // empty: let the system resolver find them
  std::optional<std::string> address_state;
  std::string canonical;               // the host name after CNAMEs
  std::optional<Verdict> stop;         // the lookup failed: defer (or fail for a missing host)
  std::optional<Failure> failure;
  dane::TlsaSet tlsa;
  bool tlsa_asked = false;
};

[[nodiscard]] net::awaitable<HostDns> discover(const HostJob& job, Level asked, const Options& options,
                                               net::Clock::time_point deadline);

[[nodiscard]] net::awaitable<Outcome> probe_host(const HostJob& job, const Plan& plan, const Options& options,
                                                 net::Watchdog& watchdog, net::Clock::time_point deadline);

// --srv: the service domain's SRV targets in RFC 2782 order, each probed until one does not
// defer (probe/srv.cpp).
[[nodiscard]] net::awaitable<Outcome> run_service(const Target& target, const Plan& plan, const Options& options,
                                                  net::Watchdog& watchdog, net::Clock::time_point deadline);

[[nodiscard]] double ms(net::Clock::time_point from, net::Clock::time_point to);

// The identity and policy fields every Outcome of `target` starts with.
[[nodiscard]] Outcome outcome_for(const Target& target, const std::string& host, std::uint16_t port, const Plan& plan);

}  // namespace ostls::probe
