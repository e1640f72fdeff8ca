// ManageSieve STARTTLS client (RFC 5804 §1.7, §2.2). The server greets with its capability
// response ('"STARTTLS"' among the lines, then 'OK'); STARTTLS → OK → [TLS] → the server
// re-issues its capabilities unasked (§2.2) → LOGOUT. Implicit TLS is not defined for it.
// Server (in front of a plaintext backend): greeting capabilities relayed with "STARTTLS" added
// before the OK → CAPABILITY relayed the same way, NOOP relayed → STARTTLS answered OK here →
// [TLS] → the backend is asked CAPABILITY and its answer relayed as the re-issued list (§2.2:
// the backend would not send it unasked; "STARTTLS" is dropped from it) → relay. Any other
// command before STARTTLS continues in cleartext, or with require_tls gets
// NO (ENCRYPT-NEEDED) (§1.3) and the pre-TLS "SASL" capability is emptied.
// Does not: AUTHENTICATE, scripts, literals in capability values (a backend sending one is
// relayed as is and no longer followed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"
#include "protocols/server.hpp"

namespace ostls::sieve {

struct ClientParams {
  proto::Upgrade upgrade = proto::Upgrade::IfOffered;
  Limits limits;
};

// '"SASL" "PLAIN LOGIN"' → 'SASL PLAIN LOGIN' (quotes removed, words kept).
[[nodiscard]] std::string capability_line(std::string_view line);

class Client {
public:
  explicit Client(ClientParams params);
  [[nodiscard]] proto::Step start();
  [[nodiscard]] proto::Step on_line(std::string_view line);
  [[nodiscard]] proto::Step on_tls_established();
  [[nodiscard]] const proto::Facts& facts() const { return facts_; }

private:
  enum class State : std::uint8_t { Capabilities, Starttls, CapabilitiesTls, Done };
  proto::Step after_capabilities();
  proto::Step fail(Errc code, std::string detail);

  ClientParams params_;
  State state_ = State::Capabilities;
  std::vector<std::string> caps_;
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
  // Greeting, Capabilities (a CAPABILITY answer) and CapabilitiesTls (the list asked for after
  // TLS) read capability lines up to the status; Reply reads any other answer (NOOP).
  enum class State : std::uint8_t { Greeting, Command, Capabilities, CapabilitiesTls, Reply, Done };
  proto::Action on_capability_line(std::string_view line);
  proto::Action on_status(std::string_view line);
  proto::Action refuse(std::string_view line);

  proto::ServerParams params_;
  State state_ = State::Greeting;
  std::size_t lines_ = 0, bytes_ = 0;  // of the response being relayed (bounded)
  bool starttls_listed_ = false;
  proto::ServerFacts facts_;
};

}  // namespace ostls::sieve
