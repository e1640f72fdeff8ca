#include "net/channel.hpp"

#include <asio/read.hpp>
#include <asio/ssl/error.hpp>
#include <asio/write.hpp>

#include <fmt/format.h>

namespace ostls::net {

Channel::Channel(Socket socket, const Limits& limits, Transcript transcript)
    : plain_(std::move(socket)), limits_(limits), transcript_(std::move(transcript)) {}

Error Channel::map_error(const std::error_code& ec, std::string_view what) const {
  if (aborted_) return Error{Errc::Timeout, Fault::Network, fmt::format("{}: deadline expired", what)};
  if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated ||
      ec == asio::error::broken_pipe) {
    return Error{Errc::Closed, Fault::Network, fmt::format("{}: connection closed by peer ({})", what, ec.message())};
  }
  return Error{Errc::Io, Fault::Network, fmt::format("{}: {}", what, ec.message())};
}

awaitable<std::pair<std::error_code, std::size_t>> Channel::read_some(char* data, std::size_t size) {
  auto buffer = asio::buffer(data, size);
  if (tls_) {
    auto [ec, n] = co_await tls_->async_read_some(buffer, use_result);
    co_return std::pair{ec, n};
  }
  auto [ec, n] = co_await plain_.async_read_some(buffer, use_result);
  co_return std::pair{ec, n};
}

awaitable<Result<std::string>> Channel::read_line() {
  std::size_t scanned = 0;
  for (;;) {
    const auto nl = buf_.find('\n', scanned);
    if (nl != std::string::npos) {
      if (nl + 1 > limits_.max_line) break;
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (transcript_) transcript_(Direction::Received, line);
      co_return line;
    }
    scanned = buf_.size();
    if (buf_.size() >= limits_.max_line) break;
    char chunk[4096];
    const auto want = std::min(sizeof chunk, limits_.max_line + 1 - buf_.size());
    auto [ec, n] = co_await read_some(chunk, want);
    if (ec) co_return unexpected<Error>(map_error(ec, "read"));
    if (!first_read_) first_read_ = Clock::now();
    buf_.append(chunk, n);
  }
  buf_.clear();
  co_return fail(Errc::LineTooLong, Fault::Peer, fmt::format("line longer than {} bytes", limits_.max_line));
}

awaitable<Result<std::string>> Channel::read_bytes(std::size_t max) {
  if (buf_.empty()) {
    char chunk[4096];
    auto [ec, n] = co_await read_some(chunk, sizeof chunk);
    if (ec) co_return unexpected<Error>(map_error(ec, "read"));
    if (!first_read_) first_read_ = Clock::now();
    buf_.append(chunk, n);
  }
  const auto n = std::min(max, buf_.size());
  std::string out = buf_.substr(0, n);
  buf_.erase(0, n);
  if (transcript_) transcript_(Direction::Received, fmt::format("[{} bytes]", out.size()));
  co_return out;
}

awaitable<Result<std::size_t>> Channel::read_into(std::span<char> out) {
  if (!buf_.empty()) {
    const auto n = buf_.copy(out.data(), out.size());
    buf_.erase(0, n);
    co_return n;
  }
  auto [ec, n] = co_await read_some(out.data(), out.size());
  if (ec) co_return unexpected<Error>(map_error(ec, "read"));
  if (!first_read_) first_read_ = Clock::now();
  if (transcript_) transcript_(Direction::Received, fmt::format("[{} bytes]", n));
  co_return n;
}

awaitable<Result<void>> Channel::write(std::string_view bytes) {
  if (transcript_) {
    for (std::size_t pos = 0; pos < bytes.size();) {
      const auto end = std::min(bytes.find('\n', pos), bytes.size());
      auto line = bytes.substr(pos, end - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      transcript_(Direction::Sent, line);
      pos = end + 1;
    }
  }
  last_write_ = Clock::now();
  auto buffer = asio::buffer(bytes.data(), bytes.size());
  auto [ec, n] = tls_ ? co_await asio::async_write(*tls_, buffer, use_result)
                      : co_await asio::async_write(plain_, buffer, use_result);
  if (ec) co_return unexpected<Error>(map_error(ec, "write"));
  co_return Result<void>{};
}

std::string Channel::take_leftover() { return std::exchange(buf_, {}); }

awaitable<Result<void>> Channel::handshake(tls::SslPtr ssl, bool client) {
  if (!buf_.empty()) {
    co_return fail(Errc::Malformed, Fault::Local, "plaintext still buffered at the TLS upgrade");
  }
  tls_.emplace(std::move(plain_), ssl.release());
  const auto type = client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server;
  auto [ec] = co_await tls_->async_handshake(type, use_result);
  if (ec) {
    if (aborted_) co_return unexpected<Error>(map_error(ec, "TLS handshake"));
    auto e = map_error(ec, "TLS handshake");
    if (e.code == Errc::Io) e = Error{Errc::Handshake, Fault::Peer, ec.message()};
    co_return unexpected<Error>(std::move(e));
  }
  if (transcript_) transcript_(Direction::Info, fmt::format("TLS handshake done: {} {}", SSL_get_version(this->ssl()), SSL_CIPHER_get_name(SSL_get_current_cipher(this->ssl()))));
  co_return Result<void>{};
}

SSL* Channel::ssl() { return tls_ ? tls_->native_handle() : nullptr; }

void Channel::abort() {
  aborted_ = true;
  std::error_code ignored;
  if (tls_) {
    tls_->lowest_layer().close(ignored);
  } else {
    plain_.close(ignored);
  }
}

void Channel::half_close() {
  if (tls_) return;
  std::error_code ignored;
  plain_.shutdown(Socket::shutdown_send, ignored);
}

}  // namespace ostls::net
