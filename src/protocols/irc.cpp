#include "protocols/irc.hpp"

#include <utility>

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

namespace {

// A CAP LS line split before its capability list: ":s CAP * LS * :a b" → {":s CAP * LS * ", "a b"}.
// Precondition: the message has the list parameter.
std::pair<std::string_view, std::string_view> split_list(std::string_view line) {
  const auto colon = line.find(" :");
  if (colon != std::string_view::npos) return {line.substr(0, colon + 1), line.substr(colon + 2)};
  const auto sp = line.rfind(' ');
  return {line.substr(0, sp + 1), line.substr(sp + 1)};
}

// "tls" or "tls=…" (IRCv3 CAP 302 values); capability names are case-sensitive.
bool is_tls(std::string_view cap) { return cap.substr(0, cap.find('=')) == "tls"; }

bool is_error_numeric(std::string_view command) {
  return command.size() == 3 && command[0] >= '4' && command[0] <= '5' &&
         command.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

Server::Server(proto::ServerParams params) : params_(std::move(params)) {}

proto::Action Server::start() { return {{}, {}, proto::Next::ReadClient, 0, std::nullopt}; }

proto::Action Server::on_tls_established() {
  facts_.tls_established = true;
  state_ = State::Command;  // the client asks CAP LS again; "tls" is no longer offered
  return {{}, {}, proto::Next::ReadClient, 0, std::nullopt};
}

proto::Action Server::on_client_line(std::string_view line) {
  if (state_ != State::Command) return proto::serve_fail(Errc::Malformed, Fault::Local, "client line out of turn");
  const auto m = parse_message(line);
  const bool tls = facts_.tls_established;
  if (m.command.empty()) return {{}, {}, proto::Next::ReadClient, 0, std::nullopt};  // empty messages are ignored
  if (m.command == "STARTTLS") {
    if (tls) return proto::to_client(fmt::format(":{} 691 * :STARTTLS failure: TLS is already active\r\n", server_name_));
    facts_.upgrade_requested = true;
    state_ = State::Done;
    return proto::to_client(fmt::format(":{} 670 * :STARTTLS successful, proceed with TLS handshake\r\n", server_name_),
                            proto::Next::StartTls);
  }
  auto forwarded = fmt::format("{}\r\n", line);
  if (m.command == "CAP" && !m.params.empty() && proto::upper(m.params[0]) != "END") {
    state_ = State::CapReply;
    lines_ = 0;
    tls_listed_ = false;
    return proto::to_backend(std::move(forwarded));
  }
  // Keep-alives before registration: forwarded; the answer comes with the next backend read.
  if (m.command == "PING" || m.command == "PONG") return proto::to_backend(std::move(forwarded), proto::Next::ReadClient);
  if (tls || m.command == "QUIT") {
    state_ = State::Done;
    return proto::to_backend(std::move(forwarded), proto::Next::Relay);
  }
  if (params_.require_tls) {
    state_ = State::Done;
    return proto::to_client("ERROR :Closing link: STARTTLS is required\r\n", proto::Next::Close);
  }
  state_ = State::Done;
  return proto::relay_cleartext(facts_, line);
}

proto::Action Server::on_backend_line(std::string_view line) {
  if (state_ != State::CapReply) return proto::serve_fail(Errc::Malformed, Fault::Local, "backend line out of turn");
  const auto m = parse_message(line);
  if (!m.prefix.empty() && m.prefix.find_first_of("!@") == std::string::npos) server_name_ = m.prefix;
  if (m.command == "CAP" && m.params.size() >= 3) return on_cap(m, line);
  auto relayed = fmt::format("{}\r\n", line);
  if (m.command == "ERROR") {  // the backend closes the link
    state_ = State::Done;
    return proto::to_client(std::move(relayed), proto::Next::Relay);
  }
  if (is_error_numeric(m.command)) {  // 421 unknown command, 451 not registered, 410 bad subcommand
    state_ = State::Command;
    return proto::to_client(std::move(relayed));
  }
  // NOTICE AUTH, PING and other chatter before the answer: relayed, but bounded.
  if (++lines_ > params_.limits.max_reply_lines) {
    state_ = State::Done;
    return proto::serve_fail(Errc::ReplyTooLong, Fault::Peer,
                             fmt::format("backend: more than {} messages before the CAP answer", params_.limits.max_reply_lines));
  }
  return proto::to_client(std::move(relayed), proto::Next::ReadBackend);
}

proto::Action Server::on_cap(const Message& m, std::string_view line) {
  // IRCv3 CAP 302: "CAP nick LS * :a b" is continued, "CAP nick LS :a b" is the last line.
  const bool more = m.params.size() >= 4 && m.params[2] == "*";
  const auto next = more ? proto::Next::ReadBackend : proto::Next::ReadClient;
  if (!more) state_ = State::Command;
  if (proto::upper(m.params[1]) != "LS") return proto::to_client(fmt::format("{}\r\n", line), next);
  return proto::to_client(rewrite_ls(line, !more), next);
}

std::string Server::rewrite_ls(std::string_view line, bool last) {
  const auto [head, list] = split_list(line);
  std::string caps;
  for (const auto& c : proto::words(list)) {
    tls_listed_ = tls_listed_ || is_tls(c);
    if (facts_.tls_established && is_tls(c)) continue;  // the upgrade is done: not offered again
    caps += caps.empty() ? c : " " + c;
  }
  if (last && !facts_.tls_established && !tls_listed_) caps += caps.empty() ? "tls" : " tls";
  return fmt::format("{}:{}\r\n", head, caps);
}

}  // namespace ostls::irc
