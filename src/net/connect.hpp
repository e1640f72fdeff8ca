// Resolves a host and connects to the first address that answers (RFC 6724 order as returned
// by the system resolver). Until the DNS issue lands this is getaddrinfo through Asio; it moves
// to libunbound (dns/) with DNSSEC state later.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "net/channel.hpp"
#include "net/watchdog.hpp"

namespace ostls::net {

struct Connected {
  Socket socket;
  std::string address;  // the peer's IP address, without brackets
};

[[nodiscard]] awaitable<Result<Connected>> connect(const std::string& host, std::uint16_t port, Watchdog& watchdog);

}  // namespace ostls::net
