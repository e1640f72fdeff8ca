// IRC STARTTLS client (IRCv3 "tls" extension: STARTTLS → 670 RPL_STARTTLS / 691 ERR_STARTTLS).
// The client speaks first: CAP LS 302 (the "tls" capability advertises STARTTLS) → STARTTLS
// before NICK/USER → 670 → [TLS] → CAP LS again → QUIT. NOTICE lines are skipped, PING answered.
// A server without CAP advertises nothing: starttls_offered stays null. Implicit: ircs (6697).
// Server (in front of a plaintext backend; no greeting is guaranteed, so it reads the client
// first): CAP LS/LIST/REQ relayed with the backend's answer — "tls" added to the last CAP LS
// line — and the NOTICE/PING chatter around it; PING/PONG relayed → STARTTLS answered 670 here →
// [TLS] → CAP still relayed with "tls" removed, a second STARTTLS answered 691 here, until the
// first other command → relay. The numerics carry the backend's server name once it has spoken
// ("server" before that). Any other command before STARTTLS (NICK, USER, PASS, CAP END)
// continues in cleartext, or with require_tls gets "ERROR :Closing link" and the session ends.
// Does not: SASL, registration, a backend that never answers CAP (the set-up timeout ends it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"
#include "protocols/server.hpp"

namespace ostls::irc {

struct ClientParams {
  bool implicit_tls = false;
  proto::Upgrade upgrade = proto::Upgrade::IfOffered;
  Limits limits;
};

struct Message {
  std::string prefix, command;
  std::vector<std::string> params;  // the trailing parameter last, without its ':'
};
// RFC 1459 §2.3.1 message grammar (prefix, command, up to 15 parameters).
[[nodiscard]] Message parse_message(std::string_view line);

class Client {
public:
  explicit Client(ClientParams params);
  [[nodiscard]] proto::Step start();
  [[nodiscard]] proto::Step on_line(std::string_view line);
  [[nodiscard]] proto::Step on_tls_established();
  [[nodiscard]] const proto::Facts& facts() const { return facts_; }

private:
  enum class State : std::uint8_t { CapLs, Starttls, CapLsTls, Done };
  proto::Step after_caps(bool answered);
  proto::Step fail(Errc code, std::string detail);

  ClientParams params_;
  State state_ = State::CapLs;
  std::vector<std::string> caps_;
  std::size_t skipped_ = 0;
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
  // Command: the client's turn, before TLS or after it; CapReply: the backend's answer to a CAP
  // command being relayed (with whatever chatter comes before it).
  enum class State : std::uint8_t { Command, CapReply, Done };
  proto::Action on_cap(const Message& m, std::string_view line);
  [[nodiscard]] std::string rewrite_ls(std::string_view line, bool last);

  proto::ServerParams params_;
  State state_ = State::Command;
  std::size_t lines_ = 0;  // unrelated messages while waiting for the CAP answer (bounded)
  bool tls_listed_ = false;
  std::string server_name_ = "server";  // the backend's, once one of its messages carried it
  proto::ServerFacts facts_;
};

}  // namespace ostls::irc
