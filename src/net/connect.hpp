// Connects to the first address that answers, in the order given. The addresses come from the
// validating resolver (dns/); when none are given the host name is resolved by the system
// resolver (getaddrinfo through Asio), for callers that have no DNSSEC needs.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <asio/any_io_executor.hpp>

#include "core/error.hpp"
#include "net/channel.hpp"
#include "net/watchdog.hpp"

namespace ostls::net {

struct Connected {
  Socket socket;
  std::string address;  // the peer's IP address, without brackets
};

// The local address the system would use now to reach `peer` (an IP address): the source
// address of a connection made to it (a routing lookup through a connected UDP socket: nothing is
// sent). "" when `peer` is not an IP address or there is no route. For TLS-RPT's sending-mta-ip.
[[nodiscard]] std::string source_address(const asio::any_io_executor& ex, const std::string& peer);

// `mark`, when not 0, is set as SO_MARK on the socket before it connects (Linux, CAP_NET_ADMIN):
// the proxy's transparent mode exempts its own upstream connections from the redirect that way.
// Such a socket is bound to an ephemeral port first and the port is remembered for a while
// (marked_source_port), so that a missing exemption shows as a connection from ourselves
// instead of an endless redirect loop.
[[nodiscard]] awaitable<Result<Connected>> connect(const std::string& host, std::uint16_t port,
                                                   std::span<const std::string> addresses, Watchdog& watchdog,
                                                   std::uint32_t mark = 0);

// Whether `port` was the source port of one of this process's marked connections made in the
// last 30 seconds (transparent mode: a connection from that port came back to us).
[[nodiscard]] bool marked_source_port(std::uint16_t port);

}  // namespace ostls::net
