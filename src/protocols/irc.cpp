#include "protocols/irc.hpp"

#include <fmt/format.h>

#include "protocols/text.hpp"

namespace ostls::irc {
namespace {

constexpr std::string_view cap_ls = "CAP LS 302\r\n";
constexpr std::string_view quit = "QUIT\r\n";

}  // namespace

Message parse_message(std::string_view line) {
  Message m;
  if (!line.empty() && line.front() == ':') {
    const auto [prefix, rest] = proto::word(line.substr(1));
    m.prefix = std::string(prefix);
    line = rest;
  }
  const auto [command, rest] = proto::word(line);
  m.command = proto::upper(command);
  line = rest;
  while (!line.empty() && m.params.size() < 15) {
    if (line.front() == ':') {
      m.params.emplace_back(line.substr(1));
      break;
    }
    const auto [p, more] = proto::word(line);
    if (!p.empty()) m.params.emplace_back(p);
    line = more;
  }
  return m;
}

Client::Client(ClientParams params) : params_(std::move(params)) {}

proto::Step Client::start() {
  if (params_.implicit_tls) return proto::ReadLine{};  // the driver handshakes first, then calls on_tls_established
  return proto::Send{std::string(cap_ls)};
}

proto::Step Client::fail(Errc code, std::string detail) {
  state_ = State::Done;
  return proto::Fail{Error{code, Fault::Peer, std::move(detail)}};
}

proto::Step Client::on_tls_established() {
  facts_.tls_established = true;
  caps_.clear();
  state_ = State::CapLsTls;
  return proto::Send{std::string(cap_ls)};
}

proto::Step Client::after_caps(bool answered) {
  // Without an answer to CAP LS nothing is advertised: offered stays null.
  const auto offered = answered ? std::optional<bool>{proto::lists_keyword(caps_, "tls")} : std::nullopt;
  auto next = proto::after_capabilities(facts_, {std::move(caps_), offered}, params_.upgrade, "STARTTLS\r\n",
                                        std::string(quit));
  caps_.clear();
  state_ = next.upgrading ? State::Starttls : State::Done;
  return std::move(next.step);
}

proto::Step Client::on_line(std::string_view line) {
  if (state_ == State::Done) return fail(Errc::Malformed, "message after the dialogue ended");
  const auto m = parse_message(line);
  if (m.command.empty()) return fail(Errc::Malformed, fmt::format("malformed IRC message: \"{}\"", proto::printable(line)));
  if (m.command == "PING") {
    return proto::Send{fmt::format("PONG :{}\r\n", m.params.empty() ? "" : m.params.back())};
  }
  if (m.command == "ERROR") return fail(Errc::Rejected, fmt::format("server error: {}", proto::printable(line)));
  if (m.command == "CAP" && m.params.size() >= 3 && proto::upper(m.params[1]) == "LS" &&
      (state_ == State::CapLs || state_ == State::CapLsTls)) {
    // "CAP * LS * :a b" continues, "CAP * LS :a b" ends (IRCv3 CAP 302).
    const bool more = m.params.size() >= 4 && m.params[2] == "*";
    for (auto& c : proto::words(m.params.back())) {
      if (caps_.size() >= params_.limits.max_reply_lines) return fail(Errc::ReplyTooLong, "too many capabilities");
      caps_.push_back(std::move(c));
    }
    return more ? proto::Step{proto::ReadLine{}} : after_caps(true);
  }
  if ((state_ == State::CapLs || state_ == State::CapLsTls) && m.command == "421") {
    return after_caps(false);  // ERR_UNKNOWNCOMMAND for CAP: the server advertises nothing
  }
  if (state_ == State::Starttls) {
    if (m.command == "670") {
      facts_.starttls_accepted = true;
      state_ = State::Done;
      return proto::StartTls{};
    }
    if (m.command == "691" || m.command == "421") {
      facts_.refusal = proto::printable(line);  // no handshake after a refusal
      state_ = State::Done;
      return proto::Close{std::string(quit)};
    }
  }
  // NOTICE AUTH lines and other chatter before registration: skipped, but bounded.
  if (++skipped_ > params_.limits.max_reply_lines) {
    return fail(Errc::ReplyTooLong, fmt::format("more than {} unrelated messages", params_.limits.max_reply_lines));
  }
  return proto::ReadLine{};
}

}  // namespace ostls::irc
