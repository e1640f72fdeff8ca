// POP3 STLS client (RFC 2595 §4, RFC 2449 CAPA).
// Client: greeting "+OK" → CAPA (multi-line, "." ends it; -ERR = no CAPA) → STLS → "+OK" →
// [TLS] → CAPA again (RFC 2595 §4: capabilities may change) → QUIT.
// Implicit TLS (pop3s, RFC 8314): TLS first. Does not: USER/PASS/APOP, the server role.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"

namespace ostls::pop3 {

struct ClientParams {
  bool implicit_tls = false;
  proto::Upgrade upgrade = proto::Upgrade::IfOffered;
  Limits limits;
};

class Client {
public:
  explicit Client(ClientParams params);

  [[nodiscard]] proto::Step start();
  [[nodiscard]] proto::Step on_line(std::string_view line);
  [[nodiscard]] proto::Step on_tls_established();

  [[nodiscard]] const proto::Facts& facts() const { return facts_; }

private:
  enum class State : std::uint8_t { Greeting, CapaStatus, CapaLines, Stls, Done };

  proto::Step after_capa();
  proto::Step fail(Errc code, std::string detail);

  ClientParams params_;
  State state_ = State::Greeting;
  std::vector<std::string> caps_;
  std::size_t bytes_ = 0;
  proto::Facts facts_;
};

}  // namespace ostls::pop3
