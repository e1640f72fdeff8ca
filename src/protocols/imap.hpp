// IMAP STARTTLS client (RFC 9051 §6.2.1, RFC 3501 §6.2.1, RFC 2595 §3.1).
// Client: greeting ("* OK [CAPABILITY …]" or a CAPABILITY command) → "a2 STARTTLS" → "a2 OK" →
// [TLS] → "a3 CAPABILITY" again (RFC 9051 §6.2.1: pre-TLS capabilities are discarded) → LOGOUT.
// A PREAUTH greeting leaves no not-authenticated state, so STARTTLS is impossible: recorded as
// the `preauth-skips-starttls` indicator. Implicit TLS (imaps, RFC 8314): TLS first.
// Server (in front of a plaintext backend): greeting relayed with STARTTLS added to its
// [CAPABILITY] code → CAPABILITY and NOOP relayed with STARTTLS added → "tag STARTTLS" answered
// "tag OK" here → [TLS] → relay. A PREAUTH greeting is relayed as is (no STARTTLS is possible).
// Any other command before STARTTLS continues in cleartext, or with require_tls gets
// "NO [PRIVACYREQUIRED]" (and LOGINDISABLED is advertised).
// Does not: LOGIN/AUTHENTICATE, literals (capability responses have none).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"
#include "protocols/server.hpp"

namespace ostls::imap {

struct ClientParams {
  bool implicit_tls = false;
  proto::Upgrade upgrade = proto::Upgrade::IfOffered;
  Limits limits;
};

// The capability atoms of "* CAPABILITY a b c" or of a "[CAPABILITY a b c]" response code.
[[nodiscard]] std::vector<std::string> capability_atoms(std::string_view text);

class Client {
public:
  explicit Client(ClientParams params);

  [[nodiscard]] proto::Step start();
  [[nodiscard]] proto::Step on_line(std::string_view line);
  [[nodiscard]] proto::Step on_tls_established();

  [[nodiscard]] const proto::Facts& facts() const { return facts_; }

private:
  enum class State : std::uint8_t { Greeting, Capability, Starttls, CapabilityTls, Done };

  proto::Step on_tagged(std::string_view status, std::string_view text);
  proto::Step send(std::string_view command, State next);
  proto::Step after_capabilities();
  proto::Step fail(Errc code, std::string detail);
  [[nodiscard]] bool lists_starttls(const std::vector<std::string>& caps) const;

  ClientParams params_;
  State state_ = State::Greeting;
  int tag_ = 0;
  std::size_t untagged_ = 0;  // untagged lines since the last command (bounded)
  std::vector<std::string> caps_;
  bool have_caps_ = false;
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
  enum class State : std::uint8_t { Greeting, Command, Reply, Done };

  // `atoms` with STARTTLS (and LOGINDISABLED under require_tls) added when missing.
  [[nodiscard]] std::string with_starttls(std::string_view atoms) const;
  [[nodiscard]] std::string rewrite_code(std::string_view text) const;

  proto::ServerParams params_;
  State state_ = State::Greeting;
  std::string tag_;           // of the command whose reply is being relayed
  std::size_t untagged_ = 0;  // lines of that reply so far (bounded)
  proto::ServerFacts facts_;
};

}  // namespace ostls::imap
