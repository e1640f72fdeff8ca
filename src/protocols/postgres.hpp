// PostgreSQL SSL negotiation (PostgreSQL protocol, "SSL Session Encryption"): the client sends
// an SSLRequest (length 8, code 80877103); the server answers one byte, 'S' (go ahead with the
// handshake) or 'N' (no SSL). Anything after the 'S' before the handshake is injected plaintext
// (CVE-2021-23222 class) — the driver finds it in the channel's leftover (R10).
// The probe closes after 'N' or after the handshake: no StartupMessage, no authentication.
// The server advertises nothing beforehand: starttls_offered stays null.
// Server (in front of a plaintext backend): reads the client's first 8 bytes. SSLRequest →
// 'S' here → [TLS] → relay (behind the SSLRequest nothing may be buffered: CVE-2021-23214
// class, discarded by the driver). GSSENCRequest (80877104) → 'N' here (no GSSAPI encryption)
// and read again. A StartupMessage (or anything else, CancelRequest included) is forwarded and
// the session continues in cleartext; with require_tls it gets an ErrorResponse (SQLSTATE
// 28000) and the session ends. Does not: direct TLS (PostgreSQL 17 sslnegotiation=direct): a
// ClientHello without an SSLRequest is forwarded like anything else.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/protocol.hpp"
#include "protocols/server.hpp"

namespace ostls::postgres {

struct ClientParams {
  proto::Upgrade upgrade = proto::Upgrade::IfOffered;
};

inline constexpr std::uint32_t ssl_request_code = 80877103;     // 1234.5679
inline constexpr std::uint32_t gssenc_request_code = 80877104;  // 1234.5680

// The 8-byte SSLRequest message.
[[nodiscard]] std::string ssl_request();

// The first 8 bytes a client sends: Int32 length, Int32 code (protocol version or request code).
struct Preamble {
  std::uint32_t length = 0;
  std::uint32_t code = 0;
};
[[nodiscard]] Preamble preamble(std::string_view first8);  // zeros if fewer than 8 bytes
// An ErrorResponse (protocol "Message Formats"): severity FATAL, `sqlstate`, `message`.
[[nodiscard]] std::string error_response(std::string_view sqlstate, std::string_view message);

class Client {
public:
  explicit Client(ClientParams params) : params_(params) {}
  [[nodiscard]] proto::Step start();
  [[nodiscard]] proto::Step on_bytes(std::string_view bytes);
  [[nodiscard]] proto::Step on_tls_established();
  [[nodiscard]] const proto::Facts& facts() const { return facts_; }

private:
  ClientParams params_;
  bool answered_ = false;
  proto::Facts facts_;
};

class Server {
public:
  explicit Server(proto::ServerParams params) : params_(std::move(params)) {}

  [[nodiscard]] proto::Action start();  // read the client's first 8 bytes
  [[nodiscard]] proto::Action on_client_bytes(std::string_view bytes);
  [[nodiscard]] proto::Action on_backend_bytes(std::string_view bytes);  // never asked for: fails closed
  [[nodiscard]] proto::Action on_tls_established();

  [[nodiscard]] const proto::ServerFacts& facts() const { return facts_; }

private:
  enum class State : std::uint8_t { Preamble, Done };

  proto::Action read();
  proto::Action on_preamble(Preamble p);

  proto::ServerParams params_;
  State state_ = State::Preamble;
  std::string buf_;             // at most 8 bytes
  bool gssenc_refused_ = false;  // a second GSSENCRequest is forwarded, as the server would refuse it
  proto::ServerFacts facts_;
};

}  // namespace ostls::postgres
