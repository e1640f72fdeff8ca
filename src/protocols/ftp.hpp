// FTP AUTH TLS client (RFC 4217 §4, RFC 2389 FEAT, RFC 959 §4.2 multi-line replies).
// Client: greeting 220 → FEAT ("AUTH TLS" among the features) → AUTH TLS → 234 → [TLS] →
// PBSZ 0 → PROT P (RFC 4217 §9) → FEAT again → QUIT. 504/534/4xx refuse. Implicit: ftps (990).
// Server (in front of a plaintext backend): greeting relayed → FEAT relayed with AUTH TLS, PBSZ
// and PROT added (a backend without FEAT gets a list answered here); NOOP, SYST, HELP relayed →
// AUTH TLS answered 234 here → [TLS] → PBSZ answered 200 and PROT answered here (C: 200; P, S,
// E: 536 — only the control connection is protected: data connections are not proxied, the
// client opens them to the backend itself, in cleartext); every other command relayed line by
// line with its reply (FEAT with PBSZ and PROT, without AUTH) until the first command that
// opens a data connection (PASV, EPSV, PORT, EPRT, LPSV, LPRT), REIN or QUIT → relay. A later
// PBSZ/PROT reaches the backend, and the line-by-line phase counts against the driver's set-up
// timeout. Any other command before AUTH TLS continues in cleartext, or with require_tls gets 530.
// Does not: USER/PASS in the client, data connections, CCC, AUTH SSL / TLS-P (answered 504).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"
#include "protocols/server.hpp"

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

class Server {
public:
  explicit Server(proto::ServerParams params);
  [[nodiscard]] proto::Action start();
  [[nodiscard]] proto::Action on_client_line(std::string_view line);
  [[nodiscard]] proto::Action on_backend_line(std::string_view line);
  [[nodiscard]] proto::Action on_tls_established();
  [[nodiscard]] const proto::ServerFacts& facts() const { return facts_; }

private:
  // Command: the client's turn, before TLS or after it; Reply: a backend reply being relayed
  // (1xx preliminaries and multi-line replies included).
  enum class State : std::uint8_t { Greeting, Command, Reply, Done };
  proto::Action on_tls_command(std::string_view verb, std::string_view args, std::string_view line);
  proto::Action forward(std::string_view line, bool feat);
  proto::Action on_reply(const Reply& reply, std::string_view last_line);
  proto::Action on_feat_line(std::string_view line);
  [[nodiscard]] std::string feat_additions() const;

  proto::ServerParams params_;
  ReplyReader reader_;
  State state_ = State::Greeting;
  bool feat_ = false;  // the reply being relayed answers FEAT
  bool auth_listed_ = false, pbsz_listed_ = false, prot_listed_ = false;
  proto::ServerFacts facts_;
};

}  // namespace ostls::ftp
