// IRC STARTTLS client (IRCv3 "tls" extension: STARTTLS → 670 RPL_STARTTLS / 691 ERR_STARTTLS).
// The client speaks first: CAP LS 302 (the "tls" capability advertises STARTTLS) → STARTTLS
// before NICK/USER → 670 → [TLS] → CAP LS again → QUIT. NOTICE lines are skipped, PING answered.
// A server without CAP advertises nothing: starttls_offered stays null. Implicit: ircs (6697).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"

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

}  // namespace ostls::irc
