// Targets as written on the command line (SPEC §2): PROTO://host[:port] or PROTO://[host][:port].
// Brackets mean "this host, no MX lookup" (Postfix convention); an IPv6 literal goes inside them.
// Pure: no resolution happens here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "protocols/registry.hpp"

namespace ostls::probe {

struct Target {
  std::string text;           // as given
  proto::ProtocolInfo protocol;
  std::string host;           // without brackets
  std::uint16_t port = 0;     // the explicit port or the protocol's default
  bool port_given = false;    // the port was written in the target
  bool bracketed = false;     // [host]: a single host, never an MX lookup
  bool is_ip_literal = false;
};

// `default_scheme` (--protocol) lets a target be written without a scheme: "host:port".
[[nodiscard]] Result<Target> parse_target(std::string_view text, std::string_view default_scheme = {});

// --implicit / --starttls-only: the same protocol family with TLS from the first byte, or with
// STARTTLS, keeping the target's port. Errors when the family has no such variant.
enum class TlsMode : std::uint8_t { AsScheme, Implicit, Starttls };
[[nodiscard]] Result<Target> with_tls_mode(Target t, TlsMode mode);

}  // namespace ostls::probe
