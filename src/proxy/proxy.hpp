// `ostls proxy`: the long-running daemon. A main Asio event loop accepts connections and runs
// signals, reloads and /metrics; `workers` session loops (a thread each, one per core by default)
// run the sessions, a coroutine each — no thread per connection. Client-mode sessions share the
// TLS contexts and the session cache (resumption toward repeat destinations, tls/resume.hpp);
// each worker has its own resolver and store connection. Each [[listener]] runs:
//   mode "client": the application speaks cleartext to the listener; the proxy negotiates with
//     the destination (`transparent`: each connection's SO_ORIGINAL_DST) through the whole
//     policy engine (probe::run: policy map, DANE, MTA-STS, TOFU, memory, the level), keeps
//     that connection (probe::Held), shows the application the
//     peer's greeting and relays the session over it — or, when the policy is not met, answers
//     the application with the protocol's temporary refusal carrying the reason
//     (proxy/client_side.hpp). Never a silent cleartext session: a cleartext relay happens only
//     where the level allows it, and is logged and counted as such.
//   mode "server": STARTTLS (and/or implicit TLS) in front of a plaintext backend through
//     net::serve() (R10 included), optionally with a PROXY v2 header to the backend.
// One human line per session on stderr; Prometheus metrics (proxy/metrics.hpp); SIGTERM/SIGINT
// stop accepting and drain for drain_timeout; SIGHUP re-reads the configuration (certificates,
// policies, listeners added or removed) without touching open sessions — a broken file is
// reported and the running configuration kept.
#pragma once

#include "core/error.hpp"
#include "proxy/config.hpp"

namespace ostls::proxy {

struct RunOptions {
  bool verbose = false;  // each session's dialogue on stderr
};

// Everything the configuration names can be loaded: certificates and keys, policy maps, the
// resolver's configuration, the store. Errors name the file and line of the listener.
[[nodiscard]] Result<void> check(const Config& config);

// Runs until SIGTERM or SIGINT has drained the sessions. Start-up failures (a port in use, a
// certificate that does not load) are returned before anything is served.
[[nodiscard]] Result<void> run(const Config& config, const RunOptions& options);

}  // namespace ostls::proxy
