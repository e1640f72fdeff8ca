// SMTP STARTTLS client (RFC 3207), also for submission (RFC 6409) and LMTP (RFC 2033, LHLO).
// Client: greeting → EHLO (HELO on 5xx when allowed) → STARTTLS → 220 → [TLS] → EHLO → QUIT.
// Implicit TLS (smtps, RFC 8314): the driver handshakes first, then greeting → EHLO → QUIT.
// Records what the dialogue saw in proto::Facts; policy decisions are made by the caller.
// Pre-TLS capabilities are kept apart from post-TLS ones and never reused (R10).
// Server (in front of a plaintext backend): greeting relayed → EHLO/LHLO relayed with STARTTLS
// added → STARTTLS answered 220 here → [TLS] → relay. HELO, NOOP, RSET are relayed on the way;
// any other command before STARTTLS continues the session in cleartext (or gets 530 with
// require_tls). Does not: AUTH, MAIL, pipelining in the client; BDAT interpretation anywhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"
#include "protocols/reply.hpp"
#include "protocols/server.hpp"

namespace ostls::smtp {

struct ClientParams {
  std::string helo = "localhost";   // our name in EHLO/LHLO
  bool lmtp = false;                // LHLO instead of EHLO, no HELO fallback
  bool implicit_tls = false;        // TLS already up when the greeting arrives
  proto::Upgrade upgrade = proto::Upgrade::IfOffered;
  bool helo_fallback = true;        // EHLO 5xx → HELO (only when TLS is not required)
  Limits limits;
};

// Whether an EHLO keyword list (lines without the status prefix) lists `keyword` (upper case).
[[nodiscard]] bool lists(const std::vector<std::string>& caps, std::string_view keyword);

// A keyword that is probably STARTTLS rewritten by a middlebox: same length, mostly 'X'
// (Cisco PIX-style "XXXXXXXA") or at most two characters off.
[[nodiscard]] bool looks_masked(std::string_view keyword);

class Client {
public:
  explicit Client(ClientParams params);

  [[nodiscard]] proto::Step start();
  [[nodiscard]] proto::Step on_line(std::string_view line);
  [[nodiscard]] proto::Step on_tls_established();

  [[nodiscard]] const proto::Facts& facts() const { return facts_; }

private:
  enum class State : std::uint8_t { Greeting, Ehlo, Helo, Starttls, EhloTls, Done };

  proto::Step on_reply(Reply reply);
  proto::Step after_ehlo(Reply reply);
  proto::Step after_starttls(Reply reply);
  [[nodiscard]] std::string hello_command(bool helo) const;

  ClientParams params_;
  ReplyReader reader_;
  State state_ = State::Greeting;
  proto::Facts facts_;
};

struct ServerParams {
  bool lmtp = false;  // LHLO is the greeting command (EHLO is still relayed)
  proto::ServerParams common;
};

class Server {
public:
  explicit Server(ServerParams params);

  [[nodiscard]] proto::Action start();
  [[nodiscard]] proto::Action on_client_line(std::string_view line);
  [[nodiscard]] proto::Action on_backend_line(std::string_view line);
  [[nodiscard]] proto::Action on_tls_established();

  [[nodiscard]] const proto::ServerFacts& facts() const { return facts_; }

private:
  enum class State : std::uint8_t { Greeting, Command, Reply, Done };

  proto::Action on_reply(Reply reply);

  ServerParams params_;
  ReplyReader reader_;
  State state_ = State::Greeting;
  bool hello_ = false;  // the reply being read answers EHLO/LHLO
  proto::ServerFacts facts_;
};

// "250-first\r\n250 last\r\n" from a parsed reply.
[[nodiscard]] std::string format_reply(const Reply& reply);

}  // namespace ostls::smtp
