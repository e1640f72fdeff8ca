// One connection to a peer, first in plaintext and then, after the upgrade, under TLS — the
// same object, with the socket moved under the TLS stream (STYLE "Upgrade by moving the socket").
// Lines are read only through read_line(), bounded by Limits::max_line; whatever arrived
// beyond the last line handed out is visible through take_leftover(), which the upgrade step
// must check and discard (R10: no plaintext crosses the upgrade).
// Works on any stream socket (TCP, or a UNIX socketpair in unit tests).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <asio/generic/stream_protocol.hpp>
#include <asio/ssl/stream.hpp>

#include "core/error.hpp"
#include "core/limits.hpp"
#include "net/coro.hpp"
#include "tls/ossl.hpp"

namespace ostls::net {

using Socket = asio::generic::stream_protocol::socket;
using Clock = std::chrono::steady_clock;

enum class Direction : std::uint8_t { Received, Sent, Info };
// Sees every line read or written (without CRLF), e.g. for `ostls probe -v`.
using Transcript = std::function<void(Direction, std::string_view)>;

class Channel {
public:
  Channel(Socket socket, const Limits& limits, Transcript transcript = {});

  // The next CRLF- (or LF-) terminated line, without its terminator. Errc::LineTooLong past
  // limits.max_line; Errc::Closed at end of stream; Errc::Timeout after abort().
  [[nodiscard]] awaitable<Result<std::string>> read_line();
  [[nodiscard]] awaitable<Result<void>> write(std::string_view bytes);
  // Binary protocols: between 1 and `max` bytes (buffered ones first); the rest stays buffered,
  // so take_leftover() still sees anything the peer sent beyond what was asked for.
  [[nodiscard]] awaitable<Result<std::string>> read_bytes(std::size_t max);

  // Relaying: between 1 and out.size() bytes into `out` — buffered ones first, else straight
  // from the socket (or TLS) into `out`, with no copy in between.
  [[nodiscard]] awaitable<Result<std::size_t>> read_into(std::span<char> out);

  // Bytes received beyond the last line returned; the buffer is empty afterwards.
  [[nodiscard]] std::string take_leftover();

  // Moves the socket under TLS and runs the client (or server) handshake on `ssl`.
  // Precondition: take_leftover() returned everything buffered (nothing is carried over).
  [[nodiscard]] awaitable<Result<void>> handshake(tls::SslPtr ssl, bool client = true);

  [[nodiscard]] SSL* ssl();
  [[nodiscard]] bool is_tls() const { return tls_.has_value(); }
  [[nodiscard]] std::optional<Clock::time_point> first_read() const { return first_read_; }
  [[nodiscard]] Clock::time_point last_write() const { return last_write_; }
  // Replaces the transcript (e.g. before the channel outlives whoever the old one refers to).
  void set_transcript(Transcript transcript) { transcript_ = std::move(transcript); }

  // Closes the socket; pending and later operations fail with Errc::Timeout.
  void abort();
  // Plaintext only: no more writes (TCP FIN); reads continue. A no-op under TLS.
  void half_close();

private:
  [[nodiscard]] awaitable<std::pair<std::error_code, std::size_t>> read_some(char* data, std::size_t size);
  [[nodiscard]] Error map_error(const std::error_code& ec, std::string_view what) const;

  Socket plain_;
  std::optional<asio::ssl::stream<Socket>> tls_;
  Limits limits_;
  Transcript transcript_;
  std::string buf_;
  std::optional<Clock::time_point> first_read_;
  Clock::time_point last_write_{};
  bool aborted_ = false;
};

}  // namespace ostls::net
