#include "protocols/imap.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "protocols/text.hpp"

namespace ostls::imap {
namespace {

using proto::printable;
using proto::upper;
using proto::word;

// "OK [CAPABILITY IMAP4rev1 STARTTLS] ready" → "IMAP4rev1 STARTTLS" (empty if no such code).
std::string_view capability_code(std::string_view text) {
  if (text.size() < 12 || text.front() != '[') return {};
  const auto close = text.find(']');
  if (close == std::string_view::npos) return {};
  const auto code = text.substr(1, close - 1);
  if (upper(code.substr(0, 11)) != "CAPABILITY ") return {};
  return code.substr(11);
}

}  // namespace

std::vector<std::string> capability_atoms(std::string_view text) { return proto::words(text); }

Client::Client(ClientParams params) : params_(std::move(params)) {}

proto::Step Client::start() { return proto::ReadLine{}; }

proto::Step Client::fail(Errc code, std::string detail) {
  state_ = State::Done;
  return proto::Fail{Error{code, Fault::Peer, std::move(detail)}};
}

proto::Step Client::send(std::string_view command, State next) {
  state_ = next;
  untagged_ = 0;
  return proto::Send{fmt::format("a{} {}\r\n", ++tag_, command)};
}

bool Client::lists_starttls(const std::vector<std::string>& caps) const {
  return std::any_of(caps.begin(), caps.end(), [](const std::string& c) { return upper(c) == "STARTTLS"; });
}

proto::Step Client::on_tls_established() {
  facts_.tls_established = true;
  have_caps_ = false;
  caps_.clear();
  if (params_.implicit_tls) {
    state_ = State::Greeting;
    return proto::ReadLine{};
  }
  // RFC 9051 §6.2.1: the client MUST discard cached capabilities and ask again.
  return send("CAPABILITY", State::CapabilityTls);
}

proto::Step Client::after_capabilities() {
  const bool offered = lists_starttls(caps_);
  // The tag is taken only if the command is sent: LOGOUT and STARTTLS both use the next one.
  auto next = proto::after_capabilities(facts_, {std::move(caps_), offered}, params_.upgrade,
                                        fmt::format("a{} STARTTLS\r\n", tag_ + 1), fmt::format("a{} LOGOUT\r\n", tag_ + 1));
  caps_.clear();
  ++tag_;
  untagged_ = 0;
  state_ = next.upgrading ? State::Starttls : State::Done;
  return std::move(next.step);
}

proto::Step Client::on_line(std::string_view line) {
  if (state_ == State::Done) return fail(Errc::Malformed, "response after the dialogue ended");
  const auto [tag, rest] = word(line);
  if (state_ == State::Greeting) {
    const auto [status, text] = word(rest);
    const auto st = upper(status);
    if (tag != "*") return fail(Errc::Malformed, fmt::format("malformed IMAP greeting: \"{}\"", printable(line)));
    if (st == "BYE") return fail(Errc::TempRejected, fmt::format("greeting: {}", printable(line)));
    if (st == "PREAUTH") {
      // RFC 9051 §7.1.4: already authenticated — STARTTLS is only valid before that.
      facts_.starttls_offered = false;
      facts_.events.push_back({EventType::PreauthSkipsStarttls,
                               "PREAUTH greeting: the session is authenticated without TLS, STARTTLS is impossible"});
      state_ = State::Done;
      return proto::Close{fmt::format("a{} LOGOUT\r\n", ++tag_)};
    }
    if (st != "OK") return fail(Errc::Malformed, fmt::format("malformed IMAP greeting: \"{}\"", printable(line)));
    if (const auto code = capability_code(text); !code.empty()) {
      caps_ = capability_atoms(code);
      have_caps_ = true;
      return after_capabilities();
    }
    return send("CAPABILITY", facts_.tls_established ? State::CapabilityTls : State::Capability);
  }
  if (tag == "*") {
    if (++untagged_ > params_.limits.max_reply_lines) {
      return fail(Errc::ReplyTooLong, fmt::format("more than {} untagged responses", params_.limits.max_reply_lines));
    }
    const auto [kind, text] = word(rest);
    if (upper(kind) == "CAPABILITY") {
      caps_ = capability_atoms(text);
      have_caps_ = true;
    } else if (upper(kind) == "BYE") {
      return fail(Errc::Closed, fmt::format("server said BYE: {}", printable(text)));
    }
    return proto::ReadLine{};
  }
  if (tag == "+") return fail(Errc::Malformed, "unexpected continuation request");
  if (tag != fmt::format("a{}", tag_)) {
    return fail(Errc::Malformed, fmt::format("response with unexpected tag: \"{}\"", printable(line)));
  }
  const auto [status, text] = word(rest);
  return on_tagged(upper(status), text);
}

proto::Step Client::on_tagged(std::string_view status, std::string_view text) {
  if (status != "OK" && status != "NO" && status != "BAD") {
    return fail(Errc::Malformed, fmt::format("tagged response with status \"{}\"", printable(status)));
  }
  switch (state_) {
    case State::Capability:
    case State::CapabilityTls:
      if (status != "OK") return fail(Errc::Rejected, fmt::format("CAPABILITY {}: {}", status, printable(text)));
      if (const auto code = capability_code(text); !code.empty() && !have_caps_) caps_ = capability_atoms(code);
      return after_capabilities();
    case State::Starttls:
      if (status == "OK") {
        facts_.starttls_accepted = true;
        state_ = State::Done;
        return proto::StartTls{};
      }
      // RFC 9051 §6.2.1: NO/BAD — no handshake after a refusal.
      facts_.refusal = fmt::format("{} {}", status, printable(text));
      state_ = State::Done;
      return proto::Close{fmt::format("a{} LOGOUT\r\n", ++tag_)};
    case State::Greeting:
    case State::Done:
      break;
  }
  return fail(Errc::Malformed, "unexpected tagged response");
}

Server::Server(proto::ServerParams params) : params_(std::move(params)) {}

proto::Action Server::start() { return {{}, {}, proto::Next::ReadBackend, 0, std::nullopt}; }

proto::Action Server::on_tls_established() {
  facts_.tls_established = true;
  state_ = State::Done;
  return {{}, {}, proto::Next::Relay, 0, std::nullopt};
}

std::string Server::with_starttls(std::string_view atoms) const {
  auto list = capability_atoms(atoms);
  auto has = [&](std::string_view a) {
    return std::any_of(list.begin(), list.end(), [&](const std::string& c) { return upper(c) == a; });
  };
  std::string out(atoms);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (!has("STARTTLS")) out += " STARTTLS";
  if (params_.require_tls && !has("LOGINDISABLED")) out += " LOGINDISABLED";
  return out;
}

std::string Server::rewrite_code(std::string_view text) const {
  // "[CAPABILITY a b] rest" → "[CAPABILITY a b STARTTLS] rest"; anything else unchanged.
  const auto atoms = capability_code(text);
  if (atoms.empty()) return std::string(text);
  const auto close = text.find(']');
  return fmt::format("[CAPABILITY {}]{}", with_starttls(atoms), text.substr(close + 1));
}

proto::Action Server::on_client_line(std::string_view line) {
  if (state_ != State::Command) return proto::serve_fail(Errc::Malformed, Fault::Local, "client line out of turn");
  const auto [tag, rest] = word(line);
  const auto [command_raw, args] = word(rest);
  const auto command = upper(command_raw);
  const bool tagged = !tag.empty() && tag != "*" && tag != "+";
  if (tagged && command == "STARTTLS" && args.empty()) {
    facts_.upgrade_requested = true;
    state_ = State::Done;
    return proto::to_client(fmt::format("{} OK Begin TLS negotiation now\r\n", tag), proto::Next::StartTls);
  }
  if (tagged && (command == "CAPABILITY" || command == "NOOP") && args.empty()) {
    tag_ = std::string(tag);
    untagged_ = 0;
    state_ = State::Reply;
    return proto::to_backend(fmt::format("{}\r\n", line));
  }
  if (tagged && command == "LOGOUT") {
    state_ = State::Done;
    return proto::to_backend(fmt::format("{}\r\n", line), proto::Next::Relay);
  }
  if (params_.require_tls && tagged) {
    return proto::to_client(fmt::format("{} NO [PRIVACYREQUIRED] STARTTLS first\r\n", tag));
  }
  state_ = State::Done;
  return proto::relay_cleartext(facts_, line);
}

proto::Action Server::on_backend_line(std::string_view line) {
  const auto [tag, rest] = word(line);
  const auto [status_raw, text] = word(rest);
  const auto status = upper(status_raw);
  if (state_ == State::Greeting) {
    if (tag == "*" && status == "OK") {
      state_ = State::Command;
      return proto::to_client(fmt::format("* OK {}\r\n", rewrite_code(text)));
    }
    if (tag == "*" && status == "PREAUTH") {
      facts_.events.push_back({EventType::PreauthSkipsStarttls,
                               "the backend greets with PREAUTH: the session is authenticated without TLS"});
    }
    // PREAUTH, BYE or garbage: the client sees what the backend said; STARTTLS is not offered.
    state_ = State::Done;
    return proto::to_client(fmt::format("{}\r\n", line), proto::Next::Relay);
  }
  if (state_ != State::Reply) return proto::serve_fail(Errc::Malformed, Fault::Local, "backend line out of turn");
  if (tag == "*") {
    if (++untagged_ > params_.limits.max_reply_lines) {
      return proto::serve_fail(Errc::ReplyTooLong, Fault::Peer,
                               fmt::format("backend: more than {} untagged responses", params_.limits.max_reply_lines));
    }
    if (status == "CAPABILITY") return proto::to_client(fmt::format("* CAPABILITY {}\r\n", with_starttls(text)), proto::Next::ReadBackend);
    if (status == "BYE") {
      state_ = State::Done;
      return proto::to_client(fmt::format("{}\r\n", line), proto::Next::Relay);
    }
    return proto::to_client(fmt::format("{}\r\n", line), proto::Next::ReadBackend);
  }
  if (tag == tag_) {
    state_ = State::Command;
    const auto shown = status == "OK" ? rewrite_code(text) : std::string(text);
    return proto::to_client(shown.empty() ? fmt::format("{} {}\r\n", tag, status_raw)
                                          : fmt::format("{} {} {}\r\n", tag, status_raw, shown));
  }
  // A continuation request or a foreign tag: this is no longer a dialogue we follow.
  state_ = State::Done;
  facts_.relayed_cleartext = true;
  return proto::to_client(fmt::format("{}\r\n", line), proto::Next::Relay);
}

}  // namespace ostls::imap
