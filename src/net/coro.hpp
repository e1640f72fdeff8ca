// The one completion token of ostls (STYLE "Coroutine style"): every asynchronous operation
// returns [error_code, …] instead of throwing, and net/ turns it into a Result at once.
// Switch to asio::as_tuple when the Asio floor moves past 1.24; nothing else changes.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace ostls::net {

inline constexpr auto use_result = asio::experimental::as_tuple(asio::use_awaitable);

template <class T>
using awaitable = asio::awaitable<T>;

}  // namespace ostls::net
