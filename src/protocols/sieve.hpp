// ManageSieve STARTTLS client (RFC 5804 §1.7, §2.2). The server greets with its capability
// response ('"STARTTLS"' among the lines, then 'OK'); STARTTLS → OK → [TLS] → the server
// re-issues its capabilities unasked (§2.2) → LOGOUT. Implicit TLS is not defined for it.
// Does not: AUTHENTICATE, scripts, literals in capability values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"

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

}  // namespace ostls::sieve
