// THE table of protocols ostls speaks: scheme names, default ports, implicit TLS, dialogue family.
// Adding a protocol = one row here + one machine file (see README "Adding a protocol").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace ostls::proto {

// Which dialogue machine serves the protocol.
enum class Family : std::uint8_t { Smtp, Lmtp, Imap, Pop3, Sieve, Nntp, Ftp, Irc, Ldap, Postgres, Xmpp, XmppServer };

struct ProtocolInfo {
  std::string_view scheme;     // as written in targets
  std::string_view canonical;  // the JSON `protocol` value
  Family family;
  std::uint16_t port;
  bool implicit_tls;           // TLS from the first byte (smtps://…)
};

[[nodiscard]] std::optional<ProtocolInfo> find_protocol(std::string_view scheme);
[[nodiscard]] std::span<const ProtocolInfo> protocols();

}  // namespace ostls::proto
