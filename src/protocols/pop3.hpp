// POP3 STLS client (RFC 2595 §4, RFC 2449 CAPA).
// Client: greeting "+OK" → CAPA (multi-line, "." ends it; -ERR = no CAPA) → STLS → "+OK" →
// [TLS] → CAPA again (RFC 2595 §4: capabilities may change) → QUIT.
// Implicit TLS (pop3s, RFC 8314): TLS first. Does not: USER/PASS/APOP.
// Server (in front of a plaintext backend): greeting relayed → CAPA relayed with STLS added (a
// backend without CAPA gets a CAPA answered here: just STLS) → STLS answered "+OK" here → [TLS] →
// relay. Any other command before STLS continues in cleartext, or with require_tls gets -ERR.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"
#include "protocols/server.hpp"

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

class Server {
public:
  explicit Server(proto::ServerParams params);

  [[nodiscard]] proto::Action start();
  [[nodiscard]] proto::Action on_client_line(std::string_view line);
  [[nodiscard]] proto::Action on_backend_line(std::string_view line);
  [[nodiscard]] proto::Action on_tls_established();

  [[nodiscard]] const proto::ServerFacts& facts() const { return facts_; }

private:
  enum class State : std::uint8_t { Greeting, Command, CapaStatus, CapaLines, Done };

  proto::ServerParams params_;
  State state_ = State::Greeting;
  std::size_t lines_ = 0;  // of the CAPA reply being relayed (bounded)
  bool stls_listed_ = false;
  proto::ServerFacts facts_;
};

}  // namespace ostls::pop3
