// The shared shape of every server-role dialogue. A server machine sits between a client and a
// plaintext-only backend: it relays the backend's greeting and capability replies with the
// upgrade capability added, answers the client's upgrade command itself, has the driver run the
// TLS handshake (after discarding anything the client pipelined behind the command: R10, the
// CVE-2011-0411 class) and then has every byte relayed unchanged over TLS.
// Like the clients it is sans-IO: fed lines (or bytes) from either side, it answers with one
// Action; the driver (net/serve.hpp) performs it. Before TLS the machine understands only the
// few commands a client sends on its way to the upgrade (capabilities, no-ops, the upgrade,
// quit); the first other command means the client goes on without TLS, so that command is
// forwarded and the session becomes a plain relay (or, with require_tls, it is refused).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/outcome.hpp"

namespace ostls::proto {

enum class Next : std::uint8_t {
  ReadClient,      // the next line (binary machines: bytes) from the client → on_client_*
  ReadBackend,     // the next line (binary machines: bytes) from the backend → on_backend_*
  StartTls,        // R10 check of the client side, server handshake → on_tls_established()
  ConnectBackend,  // (re)connect the backend, dropping any old connection → on_backend_connected()
  Relay,           // copy bytes both ways unchanged until either side closes
  Close,           // end the session
  Fail,            // the dialogue cannot continue (`error` says why)
};

// Writes first (backend, then client), then `next`.
struct Action {
  std::string to_backend;
  std::string to_client;
  Next next = Next::ReadClient;
  std::size_t read_bytes = 0;  // binary machines: read at most this many bytes instead of a line
  std::optional<Error> error;  // with Next::Fail
};

struct ServerParams {
  bool require_tls = false;  // refuse every command but the upgrade, capabilities, no-ops and quit before TLS
  Limits limits;
};

// What a server dialogue saw; the driver adds the handshake and the R10 evidence.
struct ServerFacts {
  bool upgrade_requested = false;  // the client sent the upgrade command
  bool tls_established = false;
  bool relayed_cleartext = false;  // the client went on without TLS (relay from a cleartext state)
  std::vector<Event> events;
};

// Action builders shared by the machines.
[[nodiscard]] inline Action to_backend(std::string bytes, Next next = Next::ReadBackend) {
  return {std::move(bytes), {}, next, 0, std::nullopt};
}
[[nodiscard]] inline Action to_client(std::string bytes, Next next = Next::ReadClient) {
  return {{}, std::move(bytes), next, 0, std::nullopt};
}
[[nodiscard]] inline Action serve_fail(Errc code, Fault fault, std::string detail) {
  return {{}, {}, Next::Fail, 0, Error{code, fault, std::move(detail)}};
}
// `line` forwarded and the session handed to the relay: the client continues without TLS.
[[nodiscard]] Action relay_cleartext(ServerFacts& facts, std::string_view line);

}  // namespace ostls::proto
