// Connects to the first address that answers, in the order given. The addresses come from the
// validating resolver (dns/); when none are given the host name is resolved by the system
// resolver (getaddrinfo through Asio), for callers that have no DNSSEC needs.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/error.hpp"
#include "net/channel.hpp"
#include "net/watchdog.hpp"

namespace ostls::net {

struct Connected {
  Socket socket;
  std::string address;  // the peer's IP address, without brackets
};

[[nodiscard]] awaitable<Result<Connected>> connect(const std::string& host, std::uint16_t port,
                                                   std::span<const std::string> addresses, Watchdog& watchdog);

}  // namespace ostls::net
