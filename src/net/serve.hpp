// One server-role session: a client on one side, a plaintext-only backend on the other, a
// server dialogue (protocols/any_server.hpp) in between. Performs the machine's Actions, runs
// the server handshake when the client asked for the upgrade — after discarding every byte the
// client pipelined behind its upgrade command (R10, recorded as `command-injection`) — and then
// relays bytes both ways until either side closes. With implicit TLS the handshake comes first
// and the dialogue is not involved. Bounded: the set-up (connect to TLS established) by
// `setup_timeout`, the relay by `idle_timeout` without a byte in either direction.
// `ostls proxy` server mode and the server-role tests use it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <openssl/ssl.h>

#include "core/error.hpp"
#include "net/channel.hpp"
#include "protocols/any_server.hpp"
#include "protocols/registry.hpp"

namespace ostls::net {

enum class Side : std::uint8_t { Client, Backend };
using SessionTranscript = std::function<void(Side, Direction, std::string_view)>;

struct ServeReport;

struct ServeParams {
  proto::Family family = proto::Family::Smtp;
  proto::ServerParams machine;  // require_tls, limits
  bool implicit_tls = false;
  std::string backend_host;
  std::uint16_t backend_port = 0;
  SSL_CTX* tls = nullptr;  // server context (tls::server_context)
  std::chrono::steady_clock::duration setup_timeout = std::chrono::seconds(30);
  std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(300);
  SessionTranscript transcript;  // optional: every line each way (-v)
  // Optional: bytes written first on every backend connection, made when it is connected (with
  // what the session knows by then, e.g. the TLS facts of an implicit-TLS client) — a PROXY
  // protocol v2 header (proxy/proxy_protocol.hpp).
  std::function<std::string(const ServeReport&)> backend_preamble;
};

struct ServeReport {
  proto::ServerFacts facts;                   // with the driver's command-injection event
  std::optional<std::string> version, cipher; // when TLS was established with the client
  std::optional<Error> error;                 // why the session ended early, if it did
  std::uint64_t to_backend = 0, to_client = 0;  // bytes relayed after the dialogue
  std::optional<double> handshake_ms;         // the client handshake, when there was one
};

[[nodiscard]] awaitable<ServeReport> serve(Socket client, const ServeParams& params);

// Bytes both ways between two channels until either side ends or neither sends for
// `idle_limit`; anything buffered on either side is forwarded first. Counts in `report`
// (to_backend: client → backend), and a timeout in report.error. Used by serve() and by
// `ostls proxy` client mode.
[[nodiscard]] awaitable<void> relay(Channel& client, Channel& backend, ServeReport& report,
                                    std::chrono::steady_clock::duration idle_limit);

}  // namespace ostls::net
