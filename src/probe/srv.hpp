// `ostls probe --srv`: the target host is a service DOMAIN whose servers are located through
// SRV records (RFC 2782), with DANE per RFC 7673. Which protocols have an SRV service name
// defined by an RFC, and the owner name that is asked. Pure: no lookup happens here (the
// lookups and the per-target probing are probe/srv.cpp).
//
// Services: _imap._tcp, _imaps._tcp, _pop3._tcp, _pop3s._tcp, _submission._tcp (RFC 6186),
// _submissions._tcp (RFC 8314 §5.1, the `smtps` scheme: implicit-TLS submission on 465),
// _xmpp-client._tcp, _xmpp-server._tcp (RFC 6120 §3.2.1). Deliberately not: `xmpps`
// (_xmpps-client._tcp is XEP-0368, not an RFC), SMTP relay (MX, not SRV), and the protocols
// without an SRV service in an RFC (LMTP, ManageSieve, NNTP, FTP, IRC, LDAP, PostgreSQL).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "probe/target.hpp"
#include "protocols/registry.hpp"

namespace ostls::probe {

// "_imap._tcp" for imap, …; nullopt when no RFC defines an SRV service for the scheme.
[[nodiscard]] std::optional<std::string_view> srv_service(const proto::ProtocolInfo& protocol);

// The SRV owner name to look up for a --srv target, e.g. "_imap._tcp.example.org"; a usage
// error for a bracketed host, an IP literal or a protocol without an SRV service.
[[nodiscard]] Result<std::string> srv_owner(const Target& target);

}  // namespace ostls::probe
