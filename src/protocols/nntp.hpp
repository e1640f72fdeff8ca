// NNTP STARTTLS client (RFC 4642, RFC 3977 §5.2 CAPABILITIES).
// Client: greeting 200/201 → CAPABILITIES (101 + lines + ".") → STARTTLS → 382 → [TLS] →
// CAPABILITIES again (RFC 4642 §2.2.2) → QUIT. 580/502 refuse. Implicit TLS: nntps (563).
// Server (in front of a plaintext backend): greeting relayed → CAPABILITIES relayed with
// STARTTLS added (a backend without CAPABILITIES gets a list answered here), MODE READER relayed
// → STARTTLS answered 382 here → [TLS] → CAPABILITIES and MODE READER still relayed, with
// STARTTLS removed (RFC 4642 §2.2.2: not advertised under TLS) and a second STARTTLS answered
// 502 here, until the first other command → relay. Any other command before STARTTLS
// continues in cleartext, or with require_tls gets 483 (RFC 3977 §3.2.1).
// Does not: AUTHINFO, articles.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"
#include "protocols/server.hpp"

namespace ostls::nntp {

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
  enum class State : std::uint8_t { Greeting, CapaStatus, CapaLines, Starttls, Done };
  proto::Step after_capabilities();
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
  // Command: the client's turn (before or after TLS); CapaStatus/CapaLines: a CAPABILITIES
  // answer; ModeReply: the one-line answer to MODE READER.
  enum class State : std::uint8_t { Greeting, Command, CapaStatus, CapaLines, ModeReply, Done };
  proto::Action on_capa_line(std::string_view line);
  proto::Action command_turn(std::string bytes);

  proto::ServerParams params_;
  State state_ = State::Greeting;
  std::size_t lines_ = 0, bytes_ = 0;  // of the CAPABILITIES answer being relayed (bounded)
  bool starttls_listed_ = false;
  proto::ServerFacts facts_;
};

}  // namespace ostls::nntp
