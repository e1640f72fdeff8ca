#include "net/connect.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/this_coro.hpp>

#include <fmt/format.h>

namespace ostls::net {
namespace {

awaitable<Result<std::vector<asio::ip::tcp::endpoint>>> system_resolve(const std::string& host, std::uint16_t port,
                                                                       Watchdog& watchdog) {
  auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(ex);
  watchdog.on_expiry([&resolver] { resolver.cancel(); });
  auto [ec, results] =
      co_await resolver.async_resolve(host, std::to_string(port), asio::ip::tcp::resolver::numeric_service, use_result);
  watchdog.clear();
  if (watchdog.expired()) co_return fail(Errc::Timeout, Fault::Network, fmt::format("resolving {}: deadline expired", host));
  if (ec) co_return fail(Errc::Resolve, Fault::Dns, fmt::format("cannot resolve {}: {}", host, ec.message()));
  std::vector<asio::ip::tcp::endpoint> out;
  for (const auto& r : results) out.push_back(r.endpoint());
  co_return out;
}

}  // namespace

std::string source_address(const asio::any_io_executor& ex, const std::string& peer) {
  std::error_code ec;
  const auto ip = asio::ip::make_address(peer, ec);
  if (ec) return {};
  asio::ip::udp::socket socket(ex);
  socket.open(ip.is_v4() ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
  if (ec) return {};
  socket.connect({ip, 9}, ec);  // any port: connect() on UDP only picks the route
  if (ec) return {};
  const auto local = socket.local_endpoint(ec);
  return ec ? std::string() : local.address().to_string();
}

namespace {

struct MarkedPorts {
  std::mutex mutex;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint16_t>> recent;
};

MarkedPorts& marked_ports() {
  static MarkedPorts ports;
  return ports;
}

constexpr std::chrono::seconds marked_port_memory{30};

void remember_marked_port(std::uint16_t port) {
  auto& m = marked_ports();
  const auto now = std::chrono::steady_clock::now();
  const std::lock_guard lock(m.mutex);
  while (!m.recent.empty() && now - m.recent.front().first > marked_port_memory) m.recent.pop_front();
  m.recent.emplace_back(now, port);
}

}  // namespace

bool marked_source_port(std::uint16_t port) {
  auto& m = marked_ports();
  const auto now = std::chrono::steady_clock::now();
  const std::lock_guard lock(m.mutex);
  while (!m.recent.empty() && now - m.recent.front().first > marked_port_memory) m.recent.pop_front();
  return std::any_of(m.recent.begin(), m.recent.end(), [port](const auto& r) { return r.second == port; });
}

awaitable<Result<Connected>> connect(const std::string& host, std::uint16_t port, std::span<const std::string> addresses,
                                     Watchdog& watchdog, std::uint32_t mark) {
  std::vector<asio::ip::tcp::endpoint> endpoints;
  if (addresses.empty()) {
    auto r = co_await system_resolve(host, port, watchdog);
    if (!r) co_return unexpected<Error>(r.error());
    endpoints = std::move(*r);
  } else {
    for (const auto& a : addresses) {
      std::error_code ec;
      const auto ip = asio::ip::make_address(a, ec);
      if (ec) co_return fail(Errc::Usage, Fault::Local, fmt::format("not an IP address: {}", a));
      endpoints.emplace_back(ip, port);
    }
  }
  auto ex = co_await asio::this_coro::executor;
  std::string last_error = "no addresses";
  for (const auto& endpoint : endpoints) {
    asio::ip::tcp::socket socket(ex);
    if (mark != 0) {
      std::error_code ec;
      socket.open(endpoint.protocol(), ec);
      const int value = static_cast<int>(mark);
      if (!ec && ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_MARK, &value, sizeof value) != 0) {
        co_return fail(Errc::Io, Fault::Local, fmt::format("SO_MARK {}: {}", mark, std::strerror(errno)));
      }
      if (!ec) socket.bind({endpoint.address().is_v6() ? asio::ip::address(asio::ip::address_v6::any())
                                                        : asio::ip::address(asio::ip::address_v4::any()), 0}, ec);
      if (!ec) remember_marked_port(socket.local_endpoint(ec).port());
    }
    watchdog.on_expiry([&socket] {
      std::error_code ignored;
      socket.close(ignored);
    });
    auto [ec] = co_await socket.async_connect(endpoint, use_result);
    watchdog.clear();
    if (watchdog.expired()) {
      co_return fail(Errc::Timeout, Fault::Network, fmt::format("connecting to {}: deadline expired", host));
    }
    if (!ec) co_return Connected{Socket(std::move(socket)), endpoint.address().to_string()};
    last_error = fmt::format("{}:{}: {}", endpoint.address().to_string(), port, ec.message());
  }
  co_return fail(Errc::Connect, Fault::Network, fmt::format("cannot connect to {}: {}", host, last_error));
}

}  // namespace ostls::net
