#include "protocols/pop3.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "protocols/text.hpp"

namespace ostls::pop3 {
namespace {

using proto::printable;

constexpr std::string_view quit = "QUIT\r\n";

bool positive(std::string_view line) { return line.substr(0, 3) == "+OK"; }
bool negative(std::string_view line) { return line.substr(0, 4) == "-ERR"; }

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
  state_ = State::CapaStatus;  // RFC 2595 §4: ask again, the list may change under TLS
  return proto::Send{"CAPA\r\n"};
}

proto::Step Client::after_capa() {
  const bool offered = proto::lists_keyword(caps_, "STLS");
  auto next = proto::after_capabilities(facts_, {std::move(caps_), offered}, params_.upgrade, "STLS\r\n",
                                        std::string(quit));
  caps_.clear();
  state_ = next.upgrading ? State::Stls : State::Done;
  return std::move(next.step);
}

proto::Step Client::on_line(std::string_view line) {
  switch (state_) {
    case State::Greeting:
      if (negative(line)) return fail(Errc::Rejected, fmt::format("greeting: {}", printable(line)));
      if (!positive(line)) return fail(Errc::Malformed, fmt::format("malformed POP3 greeting: \"{}\"", printable(line)));
      state_ = State::CapaStatus;
      return proto::Send{"CAPA\r\n"};
    case State::CapaStatus:
      if (negative(line)) return after_capa();  // RFC 2449 §5: no CAPA — nothing advertised
      if (!positive(line)) return fail(Errc::Malformed, fmt::format("malformed CAPA reply: \"{}\"", printable(line)));
      state_ = State::CapaLines;
      bytes_ = 0;
      return proto::ReadLine{};
    case State::CapaLines:
      if (line == ".") return after_capa();
      bytes_ += line.size() + 2;
      if (caps_.size() + 1 > params_.limits.max_reply_lines || bytes_ > params_.limits.max_reply_bytes) {
        return fail(Errc::ReplyTooLong, fmt::format("CAPA reply exceeds {} lines or {} bytes",
                                                    params_.limits.max_reply_lines, params_.limits.max_reply_bytes));
      }
      caps_.emplace_back(line.substr(0, 1) == "." ? line.substr(1) : line);  // RFC 1939 §3 dot-stuffing
      return proto::ReadLine{};
    case State::Stls:
      if (positive(line)) {
        facts_.starttls_accepted = true;
        state_ = State::Done;
        return proto::StartTls{};
      }
      if (!negative(line)) return fail(Errc::Malformed, fmt::format("malformed STLS reply: \"{}\"", printable(line)));
      facts_.refusal = printable(line);  // no handshake after a refusal
      state_ = State::Done;
      return proto::Close{std::string(quit)};
    case State::Done:
      break;
  }
  return fail(Errc::Malformed, "reply after the dialogue ended");
}

Server::Server(proto::ServerParams params) : params_(std::move(params)) {}

proto::Action Server::start() { return {{}, {}, proto::Next::ReadBackend, 0, std::nullopt}; }

proto::Action Server::on_tls_established() {
  facts_.tls_established = true;
  state_ = State::Done;
  return {{}, {}, proto::Next::Relay, 0, std::nullopt};
}

proto::Action Server::on_client_line(std::string_view line) {
  if (state_ != State::Command) return proto::serve_fail(Errc::Malformed, Fault::Local, "client line out of turn");
  const auto [command_raw, args] = proto::word(line);
  const auto command = proto::upper(command_raw);
  if (command == "STLS" && args.empty()) {
    facts_.upgrade_requested = true;
    state_ = State::Done;
    return proto::to_client("+OK Begin TLS negotiation\r\n", proto::Next::StartTls);
  }
  if (command == "CAPA" && args.empty()) {
    state_ = State::CapaStatus;
    return proto::to_backend("CAPA\r\n");
  }
  if (command == "QUIT") {
    state_ = State::Done;
    return proto::to_backend("QUIT\r\n", proto::Next::Relay);
  }
  if (params_.require_tls) return proto::to_client("-ERR Use STLS first\r\n");
  state_ = State::Done;
  return proto::relay_cleartext(facts_, line);
}

proto::Action Server::on_backend_line(std::string_view line) {
  switch (state_) {
    case State::Greeting:
      // "-ERR" (or garbage) turns the client away: relayed, then the backend's close.
      state_ = positive(line) ? State::Command : State::Done;
      return proto::to_client(fmt::format("{}\r\n", line), positive(line) ? proto::Next::ReadClient : proto::Next::Relay);
    case State::CapaStatus:
      if (!positive(line)) {
        // RFC 2449 §5: no CAPA at the backend. Ours lists the one capability we add.
        state_ = State::Command;
        return proto::to_client("+OK Capability list follows\r\nSTLS\r\n.\r\n");
      }
      state_ = State::CapaLines;
      lines_ = 0;
      stls_listed_ = false;
      return proto::to_client(fmt::format("{}\r\n", line), proto::Next::ReadBackend);
    case State::CapaLines:
      if (line == ".") {
        state_ = State::Command;
        return proto::to_client(stls_listed_ ? ".\r\n" : "STLS\r\n.\r\n");
      }
      if (++lines_ > params_.limits.max_reply_lines) {
        return proto::serve_fail(Errc::ReplyTooLong, Fault::Peer,
                                 fmt::format("backend: CAPA reply exceeds {} lines", params_.limits.max_reply_lines));
      }
      stls_listed_ = stls_listed_ || proto::upper(proto::word(line).first) == "STLS";
      return proto::to_client(fmt::format("{}\r\n", line), proto::Next::ReadBackend);
    case State::Command:
    case State::Done:
      break;
  }
  return proto::serve_fail(Errc::Malformed, Fault::Local, "backend line out of turn");
}

}  // namespace ostls::pop3
