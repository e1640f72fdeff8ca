// NNTP STARTTLS client (RFC 4642, RFC 3977 §5.2 CAPABILITIES).
// Client: greeting 200/201 → CAPABILITIES (101 + lines + ".") → STARTTLS → 382 → [TLS] →
// CAPABILITIES again (RFC 4642 §2.2.2) → QUIT. 580/502 refuse. Implicit TLS: nntps (563).
// Does not: AUTHINFO, articles, the server role.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"

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

}  // namespace ostls::nntp
