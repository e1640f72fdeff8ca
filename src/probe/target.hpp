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
  bool bracketed = false;     // [host]: a single host, never an MX lookup
  bool is_ip_literal = false;
};

[[nodiscard]] Result<Target> parse_target(std::string_view text);

}  // namespace ostls::probe
