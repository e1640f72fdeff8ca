// FTP AUTH TLS client (RFC 4217 §4, RFC 2389 FEAT, RFC 959 §4.2 multi-line replies).
// Client: greeting 220 → FEAT ("AUTH TLS" among the features) → AUTH TLS → 234 → [TLS] →
// PBSZ 0 → PROT P (RFC 4217 §9) → FEAT again → QUIT. 504/534/4xx refuse. Implicit: ftps (990).
// Does not: USER/PASS, data connections, the server role.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"

namespace ostls::ftp {

struct ClientParams {
  bool implicit_tls = false;
  proto::Upgrade upgrade = proto::Upgrade::IfOffered;
  Limits limits;
};

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // text of every line (the first and last without their code)
};

// RFC 959 §4.2: "ddd-" opens a multi-line reply that ends with a line "ddd " of the same code;
// lines in between are free text. Bounded by the limits.
class ReplyReader {
public:
  explicit ReplyReader(const Limits& limits) : limits_(limits) {}
  [[nodiscard]] Result<std::optional<Reply>> feed(std::string_view line);

private:
  Limits limits_;
  std::optional<Reply> partial_;
  std::size_t bytes_ = 0;
};

class Client {
public:
  explicit Client(ClientParams params);
  [[nodiscard]] proto::Step start();
  [[nodiscard]] proto::Step on_line(std::string_view line);
  [[nodiscard]] proto::Step on_tls_established();
  [[nodiscard]] const proto::Facts& facts() const { return facts_; }

private:
  enum class State : std::uint8_t { Greeting, Feat, AuthTls, Pbsz, Prot, FeatTls, Done };
  proto::Step on_reply(Reply reply);
  proto::Step after_feat(const Reply& reply);
  proto::Step fail(Errc code, std::string detail);

  ClientParams params_;
  ReplyReader reader_;
  State state_ = State::Greeting;
  proto::Facts facts_;
};

}  // namespace ostls::ftp
