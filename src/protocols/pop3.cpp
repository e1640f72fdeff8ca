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

}  // namespace ostls::pop3
