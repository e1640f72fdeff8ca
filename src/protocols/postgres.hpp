// PostgreSQL SSL negotiation (PostgreSQL protocol, "SSL Session Encryption"): the client sends
// an SSLRequest (length 8, code 80877103); the server answers one byte, 'S' (go ahead with the
// handshake) or 'N' (no SSL). Anything after the 'S' before the handshake is injected plaintext
// (CVE-2021-23222 class) — the driver finds it in the channel's leftover (R10).
// The probe closes after 'N' or after the handshake: no StartupMessage, no authentication.
// The server advertises nothing beforehand: starttls_offered stays null.
#pragma once

#include <string>
#include <string_view>

#include "protocols/protocol.hpp"

namespace ostls::postgres {

struct ClientParams {
  proto::Upgrade upgrade = proto::Upgrade::IfOffered;
};

// The 8-byte SSLRequest message.
[[nodiscard]] std::string ssl_request();

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

}  // namespace ostls::postgres
