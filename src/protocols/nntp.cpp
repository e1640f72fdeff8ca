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

}  // namespace ostls::nntp
