#include "protocols/postgres.hpp"

#include <utility>

#include <fmt/format.h>

namespace ostls::postgres {

std::string ssl_request() {
  // Int32 length (8), Int32 code 80877103 (0x04d2162f), both big-endian.
  return std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);
}

proto::Step Client::start() {
  if (params_.upgrade == proto::Upgrade::Never) return proto::Close{};  // nothing to ask, nothing to learn
  facts_.starttls_sent = true;
  return proto::Send{ssl_request(), 1};
}

proto::Step Client::on_bytes(std::string_view bytes) {
  if (answered_ || bytes.empty()) {
    return proto::Fail{Error{Errc::Malformed, Fault::Peer, "unexpected bytes after the SSL negotiation"}};
  }
  answered_ = true;
  switch (bytes.front()) {
    case 'S':
      facts_.starttls_accepted = true;
      return proto::StartTls{};
    case 'N':
      facts_.refusal = "N (the server does not do SSL)";
      return proto::Close{};
    case 'E':
      // A pre-7.0 server or an error: an ErrorResponse instead of the one-byte answer.
      facts_.refusal = "E (ErrorResponse to SSLRequest)";
      return proto::Close{};
    default:
      return proto::Fail{Error{Errc::Malformed, Fault::Peer,
                               fmt::format("answer to SSLRequest is neither 'S' nor 'N' (0x{:02x})",
                                           static_cast<unsigned char>(bytes.front()))}};
  }
}

proto::Step Client::on_tls_established() {
  facts_.tls_established = true;
  return proto::Close{};
}

// ---- server role ----------------------------------------------------------------------------

namespace {
constexpr std::size_t preamble_size = 8;

std::uint32_t be32(std::string_view b) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
  return v;
}
}  // namespace

Preamble preamble(std::string_view first8) {
  if (first8.size() < preamble_size) return {};
  return {be32(first8.substr(0, 4)), be32(first8.substr(4, 4))};
}

std::string error_response(std::string_view sqlstate, std::string_view message) {
  std::string fields;
  for (auto [type, value] : {std::pair{'S', std::string_view("FATAL")}, std::pair{'V', std::string_view("FATAL")},
                             std::pair{'C', sqlstate}, std::pair{'M', message}}) {
    fields += type;
    fields.append(value);
    fields += '\0';
  }
  fields += '\0';
  const auto length = static_cast<std::uint32_t>(fields.size() + 4);  // the length counts itself
  std::string out(1, 'E');
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((length >> shift) & 0xff);
  return out + fields;
}

proto::Action Server::read() {
  return {{}, {}, proto::Next::ReadClient, preamble_size - buf_.size(), std::nullopt};
}

proto::Action Server::start() {
  if (state_ != State::Preamble || !buf_.empty()) {
    return proto::serve_fail(Errc::Malformed, Fault::Local, "start() called twice");
  }
  return read();
}

proto::Action Server::on_client_bytes(std::string_view bytes) {
  if (state_ != State::Preamble) return proto::serve_fail(Errc::Malformed, Fault::Local, "client bytes out of turn");
  // Exactly what was asked for, never more: bytes behind the SSLRequest must stay in the
  // driver's buffer, where the R10 check finds and discards them.
  if (bytes.empty() || buf_.size() + bytes.size() > preamble_size) {
    return proto::serve_fail(Errc::Malformed, Fault::Local,
                             fmt::format("{} client bytes, {} asked for", bytes.size(), preamble_size - buf_.size()));
  }
  buf_.append(bytes);
  if (buf_.size() < preamble_size) return read();
  return on_preamble(preamble(buf_));
}

proto::Action Server::on_preamble(Preamble p) {
  if (p.length == preamble_size && p.code == ssl_request_code) {
    facts_.upgrade_requested = true;
    state_ = State::Done;
    buf_.clear();
    return proto::to_client("S", proto::Next::StartTls);
  }
  if (p.length == preamble_size && p.code == gssenc_request_code && !gssenc_refused_) {
    // No GSSAPI encryption here; the client may go on with an SSLRequest or a StartupMessage.
    gssenc_refused_ = true;
    buf_.clear();
    auto a = read();
    a.to_client = "N";
    return a;
  }
  state_ = State::Done;
  if (params_.require_tls) {
    buf_.clear();
    return {{}, error_response("28000", "TLS required: send an SSLRequest first"), proto::Next::Close, 0,
            std::nullopt};
  }
  // A StartupMessage (or a CancelRequest, or something the backend will judge): the client goes
  // on without TLS. The rest of the message is still in the driver's buffer; the relay sends it.
  facts_.relayed_cleartext = true;
  return proto::to_backend(std::exchange(buf_, {}), proto::Next::Relay);
}

proto::Action Server::on_backend_bytes(std::string_view) {
  // The backend is only ever relayed: before TLS it has nothing to say (no greeting).
  return proto::serve_fail(Errc::Malformed, Fault::Local, "backend bytes out of turn");
}

proto::Action Server::on_tls_established() {
  if (state_ != State::Done || !facts_.upgrade_requested || facts_.tls_established) {
    return proto::serve_fail(Errc::Malformed, Fault::Local, "TLS established out of turn");
  }
  facts_.tls_established = true;
  return {{}, {}, proto::Next::Relay, 0, std::nullopt};
}

}  // namespace ostls::postgres
