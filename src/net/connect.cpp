#include "net/connect.hpp"

#include <asio/ip/tcp.hpp>
#include <asio/this_coro.hpp>

#include <fmt/format.h>

namespace ostls::net {

awaitable<Result<Connected>> connect(const std::string& host, std::uint16_t port, Watchdog& watchdog) {
  auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(ex);
  watchdog.on_expiry([&resolver] { resolver.cancel(); });
  auto [rec, endpoints] =
      co_await resolver.async_resolve(host, std::to_string(port), asio::ip::tcp::resolver::numeric_service, use_result);
  watchdog.clear();
  if (watchdog.expired()) co_return fail(Errc::Timeout, Fault::Network, fmt::format("resolving {}: deadline expired", host));
  if (rec) co_return fail(Errc::Resolve, Fault::Dns, fmt::format("cannot resolve {}: {}", host, rec.message()));

  std::string last_error = "no addresses";
  for (const auto& entry : endpoints) {
    asio::ip::tcp::socket socket(ex);
    watchdog.on_expiry([&socket] {
      std::error_code ignored;
      socket.close(ignored);
    });
    auto [ec] = co_await socket.async_connect(entry.endpoint(), use_result);
    watchdog.clear();
    if (watchdog.expired()) {
      co_return fail(Errc::Timeout, Fault::Network, fmt::format("connecting to {}: deadline expired", host));
    }
    if (!ec) {
      auto address = entry.endpoint().address().to_string();
      co_return Connected{Socket(std::move(socket)), std::move(address)};
    }
    last_error = fmt::format("{}:{}: {}", entry.endpoint().address().to_string(), port, ec.message());
  }
  co_return fail(Errc::Connect, Fault::Network, fmt::format("cannot connect to {}: {}", host, last_error));
}

}  // namespace ostls::net
