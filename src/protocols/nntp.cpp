#include "protocols/nntp.hpp"

#include <fmt/format.h>

#include "protocols/text.hpp"

namespace ostls::nntp {
namespace {

constexpr std::string_view quit = "QUIT\r\n";

// The three-digit status of an NNTP response line, or -1.
int status(std::string_view line) {
  if (line.size() < 3) return -1;
  int code = 0;
  for (int i = 0; i < 3; ++i) {
    const char c = line[static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return -1;
    code = code * 10 + (c - '0');
  }
  if (line.size() > 3 && line[3] != ' ') return -1;
  return code;
}

}  // namespace

Client::Client(ClientParams params) : params_(std::move(params)) {}

proto::Step Client::start() { return proto::ReadLine{}; }

proto::Step Client::fail(Errc code, std::string detail) {
  state_ = State::Done;
  return proto::Fail{Error{code, Fault::Peer, std::move(detail)}};
}

proto::Step Client::on_tls_established() {
  facts_.tls_established = true;
  caps_.clear();
  if (params_.implicit_tls) {
    state_ = State::Greeting;
    return proto::ReadLine{};
  }
  state_ = State::CapaStatus;  // RFC 4642 §2.2.2: capabilities may change; ask again
  return proto::Send{"CAPABILITIES\r\n"};
}

proto::Step Client::after_capabilities() {
  const bool offered = proto::lists_keyword(caps_, "STARTTLS");
  auto next = proto::after_capabilities(facts_, {std::move(caps_), offered}, params_.upgrade, "STARTTLS\r\n",
                                        std::string(quit));
  caps_.clear();
  state_ = next.upgrading ? State::Starttls : State::Done;
  return std::move(next.step);
}

proto::Step Client::on_line(std::string_view line) {
  const int code = status(line);
  switch (state_) {
    case State::Greeting:
      if (code == 200 || code == 201) {
        state_ = State::CapaStatus;
        return proto::Send{"CAPABILITIES\r\n"};
      }
      if (code == 400) return fail(Errc::TempRejected, fmt::format("greeting: {}", proto::printable(line)));
      if (code == 502) return fail(Errc::Rejected, fmt::format("greeting: {}", proto::printable(line)));
      return fail(Errc::Malformed, fmt::format("malformed NNTP greeting: \"{}\"", proto::printable(line)));
    case State::CapaStatus:
      if (code == 101) {
        state_ = State::CapaLines;
        bytes_ = 0;
        return proto::ReadLine{};
      }
      if (code >= 400 && code < 600) return after_capabilities();  // no CAPABILITIES: nothing advertised
      return fail(Errc::Malformed, fmt::format("malformed CAPABILITIES reply: \"{}\"", proto::printable(line)));
    case State::CapaLines:
      if (line == ".") return after_capabilities();
      bytes_ += line.size() + 2;
      if (caps_.size() + 1 > params_.limits.max_reply_lines || bytes_ > params_.limits.max_reply_bytes) {
        return fail(Errc::ReplyTooLong, "CAPABILITIES reply too long");
      }
      caps_.emplace_back(line.substr(0, 1) == "." ? line.substr(1) : line);
      return proto::ReadLine{};
    case State::Starttls:
      if (code == 382) {
        facts_.starttls_accepted = true;
        state_ = State::Done;
        return proto::StartTls{};
      }
      if (code >= 400 && code < 600) {
        facts_.refusal = proto::printable(line);  // 580 / 502: no handshake after a refusal
        state_ = State::Done;
        return proto::Close{std::string(quit)};
      }
      return fail(Errc::Malformed, fmt::format("malformed STARTTLS reply: \"{}\"", proto::printable(line)));
    case State::Done:
      break;
  }
  return fail(Errc::Malformed, "reply after the dialogue ended");
}

Server::Server(proto::ServerParams params) : params_(std::move(params)) {}

proto::Action Server::start() { return {{}, {}, proto::Next::ReadBackend, 0, std::nullopt}; }

proto::Action Server::on_tls_established() {
  facts_.tls_established = true;
  // RFC 4642 §2.2.2: the client asks CAPABILITIES again; that answer is still filtered here.
  state_ = State::Command;
  return {{}, {}, proto::Next::ReadClient, 0, std::nullopt};
}

proto::Action Server::command_turn(std::string bytes) {
  state_ = State::Command;
  return proto::to_client(std::move(bytes));
}

proto::Action Server::on_client_line(std::string_view line) {
  if (state_ != State::Command) return proto::serve_fail(Errc::Malformed, Fault::Local, "client line out of turn");
  const auto [command_raw, args] = proto::word(line);
  const auto command = proto::upper(command_raw);
  const bool tls = facts_.tls_established;
  if (command == "STARTTLS") {
    if (tls) return proto::to_client("502 Already using TLS\r\n");  // RFC 4642 §2.2.2
    if (!args.empty()) return proto::to_client("501 Syntax error\r\n");
    facts_.upgrade_requested = true;
    state_ = State::Done;
    return proto::to_client("382 Continue with TLS negotiation\r\n", proto::Next::StartTls);
  }
  if (command == "CAPABILITIES") {
    state_ = State::CapaStatus;
    return proto::to_backend(fmt::format("{}\r\n", line));
  }
  // RFC 3977 §5.3: a mode-switching server answers with the reader's greeting code; the
  // capabilities may change, so the client asks again (and the list is filtered again).
  if (command == "MODE" && proto::upper(args) == "READER") {
    state_ = State::ModeReply;
    return proto::to_backend(fmt::format("{}\r\n", line));
  }
  if (tls || command == "QUIT") {
    state_ = State::Done;
    return proto::to_backend(fmt::format("{}\r\n", line), proto::Next::Relay);
  }
  if (params_.require_tls) return proto::to_client("483 Encryption required: use STARTTLS first\r\n");
  state_ = State::Done;
  return proto::relay_cleartext(facts_, line);
}

proto::Action Server::on_backend_line(std::string_view line) {
  const int code = status(line);
  auto relayed = fmt::format("{}\r\n", line);
  switch (state_) {
    case State::Greeting:
      if (code == 200 || code == 201) return command_turn(std::move(relayed));
      break;  // 400/502 or garbage turn the client away: relayed, then the backend's close
    case State::CapaStatus:
      if (code == 101) {
        state_ = State::CapaLines;
        lines_ = bytes_ = 0;
        starttls_listed_ = false;
        return proto::to_client(std::move(relayed), proto::Next::ReadBackend);
      }
      if (code < 0) {
        state_ = State::Done;
        return proto::serve_fail(Errc::Malformed, Fault::Peer,
                                 fmt::format("backend: malformed CAPABILITIES reply: \"{}\"", proto::printable(line)));
      }
      if (facts_.tls_established) return command_turn(std::move(relayed));
      // A backend without CAPABILITIES (RFC 977): ours lists VERSION (§5.2.2: always first)
      // and the one capability we add.
      return command_turn("101 Capability list:\r\nVERSION 2\r\nSTARTTLS\r\n.\r\n");
    case State::CapaLines:
      return on_capa_line(line);
    case State::ModeReply:
      if (code == 200 || code == 201) return command_turn(std::move(relayed));
      break;  // 502: reading service permanently unavailable, the backend closes
    case State::Command:
    case State::Done:
      return proto::serve_fail(Errc::Malformed, Fault::Local, "backend line out of turn");
  }
  state_ = State::Done;
  return proto::to_client(std::move(relayed), proto::Next::Relay);
}

proto::Action Server::on_capa_line(std::string_view line) {
  if (line == ".") {
    const bool add = !facts_.tls_established && !starttls_listed_;
    return command_turn(add ? "STARTTLS\r\n.\r\n" : ".\r\n");
  }
  if (++lines_ > params_.limits.max_reply_lines || (bytes_ += line.size() + 2) > params_.limits.max_reply_bytes) {
    state_ = State::Done;
    return proto::serve_fail(Errc::ReplyTooLong, Fault::Peer,
                             fmt::format("backend: CAPABILITIES reply exceeds {} lines or {} bytes",
                                         params_.limits.max_reply_lines, params_.limits.max_reply_bytes));
  }
  if (proto::upper(proto::word(line).first) == "STARTTLS") {
    // RFC 4642 §2.2.2: not advertised under TLS, even by a backend that lists it itself.
    if (facts_.tls_established) return {{}, {}, proto::Next::ReadBackend, 0, std::nullopt};
    starttls_listed_ = true;
  }
  return proto::to_client(fmt::format("{}\r\n", line), proto::Next::ReadBackend);
}

}  // namespace ostls::nntp
