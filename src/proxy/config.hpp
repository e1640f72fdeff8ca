// `ostls proxy --config FILE`: the TOML configuration (toml++), read and validated completely
// before anything listens. Every error names the file, the line and the key; unknown keys are
// errors too (a misspelt `require_tls` must not silently mean false). See README "ostls proxy".
//
//   store = "/var/lib/ostls/ostls.db"      # or "postgresql://…", or "none"; default: probe's default
//   dns_config = "/etc/ostls/unbound.conf"  # the validating resolver (client mode)
//   metrics = "127.0.0.1:9109"              # Prometheus text exposition at /metrics
//   drain_timeout = 30                      # SIGTERM: seconds open sessions may still take
//   workers = 0                             # session event loops; 0: one per CPU core
//
//   [[listener]]
//   name = "outbound-smtp"  mode = "client"  protocol = "smtp"  listen = "127.0.0.1:10025"
//   connect = "mx.example.org:25"  (or destination = "example.org", port = 25, or transparent = true
//   with mark = N)  policy = "opportunistic"  session_resumption = true
//
//   [[listener]]
//   name = "inbound-smtp"  mode = "server"  protocol = "smtp"  listen = "0.0.0.0:25"
//   backend = "127.0.0.1:2525"  cert = "…"  key = "…"  implicit_tls = false  require_tls = false
//   proxy_protocol = false
//   (both modes) max_connections = 1000  max_connections_per_client = 0 (no limit)
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/level.hpp"
#include "core/limits.hpp"
#include "protocols/registry.hpp"

namespace ostls::proxy {

enum class Mode : std::uint8_t { Client, Server };

struct Endpoint {
  std::string host;  // without brackets
  std::uint16_t port = 0;
  [[nodiscard]] std::string to_string() const;  // "127.0.0.1:25", "[::1]:25"
};

// "host:port", "[v6]:port".
[[nodiscard]] Result<Endpoint> parse_endpoint(std::string_view text);

struct Listener {
  std::string name;
  Mode mode = Mode::Client;
  proto::ProtocolInfo protocol;
  Endpoint listen;
  int line = 0;  // where the [[listener]] table starts, for messages

  // client mode
  std::optional<Endpoint> connect;          // one host, no MX lookup
  std::optional<std::string> destination;   // a mail domain: MX resolution (smtp)
  bool transparent = false;                 // the destination is SO_ORIGINAL_DST (nftables redirect)
  std::uint32_t mark = 0;                   // SO_MARK on upstream sockets (transparent: exempt them from the redirect)
  bool session_resumption = true;           // resume TLS sessions toward repeat destinations
  std::uint16_t port = 0;                   // destination: the MX hosts' port; 0: the protocol's
  Level level = Level::Opportunistic;
  bool level_given = false;
  std::string policy_map, cafile, capath, helo, servername;
  bool sticky = false;
  std::uint16_t mta_sts_port = 443;

  // server mode
  std::optional<Endpoint> backend;
  std::string cert, key;
  bool implicit_tls = false, require_tls = false, proxy_protocol = false;

  // limits, both modes
  std::size_t max_connections = 1000;
  // Sessions from one client address at once; 0: no limit. The backend of a server-mode
  // listener sees every session come from the proxy's address, so its own per-client limits
  // (Postfix's smtpd_client_connection_count_limit) cannot act: this one must.
  std::size_t max_connections_per_client = 0;
  std::chrono::milliseconds handshake_timeout{30000};  // client mode: the whole upstream negotiation
  std::chrono::milliseconds idle_timeout{300000};
  Limits limits;
};

struct Config {
  std::string path;
  std::optional<std::string> store;  // nullopt: the default store; "none": no store
  std::string dns_config;
  std::optional<Endpoint> metrics;
  std::chrono::milliseconds drain_timeout{30000};
  unsigned workers = 0;  // session event loops (threads); 0: one per CPU core
  std::vector<Listener> listeners;
};

// Reads and validates `path`. Errors are Errc::Usage, Fault::Config, "FILE:LINE: message".
[[nodiscard]] Result<Config> load(const std::string& path);
// The same from text (tests, fuzzing); `path` only names it in messages.
[[nodiscard]] Result<Config> parse(std::string_view text, const std::string& path);

}  // namespace ostls::proxy
