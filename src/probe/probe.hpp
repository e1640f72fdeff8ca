// `ostls probe` for one target, as one top-down story (STYLE "One coroutine per story"):
// choose the policy (R1) → MX hosts (domain targets) or SRV targets (--srv) → addresses and TLSA (DANE) → connect → dialogue → STARTTLS → handshake → what the level demands
// (R3–R7) → R2 cleartext retry where allowed → one Outcome. Every decision is a pure function
// in policy/; this file only sequences them and performs the I/O through net/.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/limits.hpp"
#include "dns/resolver.hpp"
#include "core/outcome.hpp"
#include "net/channel.hpp"
#include "net/coro.hpp"
#include "policy/policy_map.hpp"
#include "probe/target.hpp"
#include "store/store.hpp"
#include "tls/context.hpp"
#include "tls/resume.hpp"

namespace ostls::probe {

// `ostls proxy` client mode: the connection of an outcome that met its policy, kept open after
// the dialogue (no QUIT/LOGOUT sent) for the application's session, and the peer's greeting
// as it was received (CRLF-terminated lines), to be shown to the application.
struct Held {
  std::optional<net::Channel> channel;
  std::string greeting;
};

struct Options {
  Level level = Level::Opportunistic;
  PolicySource level_source = PolicySource::Default;
  const policy::PolicyMap* policy_map = nullptr;   // R1: overrides level for the peers it names
  std::vector<std::string> match;                  // fingerprints, or names for verify/secure
  std::string cafile, capath;
  std::optional<std::string> servername;           // SNI + reference identifier
  std::string helo = "localhost";
  std::optional<std::string> xmpp_domain;          // XMPP stream `to`; default: --srv's service domain, else servername, else host
  std::chrono::milliseconds timeout{30000};        // the whole probe of one target
  bool try_starttls = false;
  // --srv: the target host is a service domain, located through SRV records with DANE per
  // RFC 7673 (probe/srv.hpp); needs `resolver`.
  bool srv = false;
  Limits limits;
  net::Transcript transcript;                      // -v: the dialogue as it happens
  dns::Resolver* resolver = nullptr;               // DNSSEC lookups; null: system resolver, no DANE
  // Memory (TOFU pins, R11 capability memory); null: --no-store, nothing remembered.
  store::Store* store = nullptr;
  bool sticky = false;                             // R11: a suspected downgrade fails
  // MTA-STS policy hosts are fetched from this port; RFC 8461 says 443, others are for labs.
  std::uint16_t mta_sts_port = 443;
  // Set: keep the connection of an `ok` outcome here instead of ending the dialogue.
  Held* held = nullptr;
  // Set: client TLS contexts shared between probes (scan, proxy); null: one per host probed.
  tls::ClientContextCache* contexts = nullptr;
  // Set (with `contexts`): sessions are resumed toward repeat destinations (the proxy's client
  // mode; tls/resume.hpp); null: every handshake is a full one (probe, scan: they measure).
  tls::SessionCache* sessions = nullptr;
  // Not 0: SO_MARK on every connection made (the proxy's transparent mode).
  std::uint32_t socket_mark = 0;
};

// Never throws for network or peer conditions: they end up in the Outcome.
[[nodiscard]] net::awaitable<Outcome> run(const Target& target, const Options& options);

}  // namespace ostls::probe
