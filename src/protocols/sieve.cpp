#include "protocols/sieve.hpp"

#include <fmt/format.h>

#include "protocols/text.hpp"

namespace ostls::sieve {
namespace {

constexpr std::string_view logout = "LOGOUT\r\n";

// RFC 5804 §1.3 responses: OK / NO / BYE, case-insensitive, optionally followed by a code/text.
std::string status_of(std::string_view line) { return proto::upper(proto::word(line).first); }

}  // namespace

std::string capability_line(std::string_view line) {
  std::string out;
  for (char c : line) {
    if (c != '"') out += c;
  }
  return out;
}

Client::Client(ClientParams params) : params_(std::move(params)) {}

proto::Step Client::start() { return proto::ReadLine{}; }

proto::Step Client::fail(Errc code, std::string detail) {
  state_ = State::Done;
  return proto::Fail{Error{code, Fault::Peer, std::move(detail)}};
}

proto::Step Client::on_tls_established() {
  facts_.tls_established = true;
  caps_.clear();
  state_ = State::CapabilitiesTls;  // RFC 5804 §2.2: the server speaks first again
  return proto::ReadLine{};
}

proto::Step Client::after_capabilities() {
  const bool offered = proto::lists_keyword(caps_, "STARTTLS");
  auto next = proto::after_capabilities(facts_, {std::move(caps_), offered}, params_.upgrade, "STARTTLS\r\n",
                                        std::string(logout));
  caps_.clear();
  state_ = next.upgrading ? State::Starttls : State::Done;
  return std::move(next.step);
}

proto::Step Client::on_line(std::string_view line) {
  switch (state_) {
    case State::Capabilities:
    case State::CapabilitiesTls: {
      if (!line.empty() && line.front() == '"') {
        if (caps_.size() + 1 > params_.limits.max_reply_lines) {
          return fail(Errc::ReplyTooLong, fmt::format("more than {} capability lines", params_.limits.max_reply_lines));
        }
        caps_.push_back(capability_line(line));
        return proto::ReadLine{};
      }
      const auto st = status_of(line);
      if (st == "OK") return after_capabilities();
      if (st == "BYE" || st == "NO") return fail(Errc::Rejected, fmt::format("server said {}", proto::printable(line)));
      return fail(Errc::Malformed, fmt::format("malformed ManageSieve response: \"{}\"", proto::printable(line)));
    }
    case State::Starttls: {
      const auto st = status_of(line);
      if (st == "OK") {
        facts_.starttls_accepted = true;
        state_ = State::Done;
        return proto::StartTls{};
      }
      if (st == "NO" || st == "BYE") {
        facts_.refusal = proto::printable(line);  // no handshake after a refusal
        state_ = State::Done;
        return proto::Close{std::string(logout)};
      }
      return fail(Errc::Malformed, fmt::format("malformed STARTTLS response: \"{}\"", proto::printable(line)));
    }
    case State::Done:
      break;
  }
  return fail(Errc::Malformed, "response after the dialogue ended");
}

}  // namespace ostls::sieve

namespace ostls::sieve {
namespace {

// The first quoted string of a capability line, upper case ('"SASL" "PLAIN"' → "SASL").
std::string capability_name(std::string_view line) {
  if (line.size() < 2 || line.front() != '"') return {};
  const auto end = line.find('"', 1);
  return proto::upper(line.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
}

// Whether a command line ends with a literal ("{12+}" or "{12}", RFC 5804 §4): its data follows.
bool ends_with_literal(std::string_view line) {
  if (line.empty() || line.back() != '}') return false;
  const auto open = line.rfind('{');
  if (open == std::string_view::npos) return false;
  auto n = line.substr(open + 1, line.size() - open - 2);
  if (!n.empty() && n.back() == '+') n.remove_suffix(1);
  return !n.empty() && n.find_first_not_of("0123456789") == std::string_view::npos;
}

proto::Action read_backend() { return {{}, {}, proto::Next::ReadBackend, 0, std::nullopt}; }

}  // namespace

Server::Server(proto::ServerParams params) : params_(std::move(params)) {}

proto::Action Server::start() { return read_backend(); }

proto::Action Server::on_tls_established() {
  facts_.tls_established = true;
  // RFC 5804 §2.2: after TLS the server re-issues its capabilities unasked. The plaintext
  // backend never saw the handshake, so it is asked here and its answer is that list.
  state_ = State::CapabilitiesTls;
  lines_ = bytes_ = 0;
  return proto::to_backend("CAPABILITY\r\n");
}

proto::Action Server::on_client_line(std::string_view line) {
  if (state_ != State::Command) return proto::serve_fail(Errc::Malformed, Fault::Local, "client line out of turn");
  const auto [command_raw, args] = proto::word(line);
  const auto command = proto::upper(command_raw);
  if (command == "STARTTLS" && args.empty()) {
    facts_.upgrade_requested = true;
    state_ = State::Done;
    return proto::to_client("OK \"Begin TLS negotiation now.\"\r\n", proto::Next::StartTls);
  }
  if (command == "CAPABILITY" && args.empty()) {
    state_ = State::Capabilities;
    lines_ = bytes_ = 0;
    starttls_listed_ = false;
    return proto::to_backend("CAPABILITY\r\n");
  }
  // NOOP with at most a quoted tag (§2.13); with a literal it is not a one-line command.
  if (command == "NOOP" && (args.empty() || (args.size() >= 2 && args.front() == '"' && args.back() == '"'))) {
    state_ = State::Reply;
    lines_ = bytes_ = 0;
    return proto::to_backend(fmt::format("{}\r\n", line));
  }
  if (command == "LOGOUT") {
    state_ = State::Done;
    return proto::to_backend(fmt::format("{}\r\n", line), proto::Next::Relay);
  }
  if (params_.require_tls) return refuse(line);
  state_ = State::Done;
  return proto::relay_cleartext(facts_, line);
}

proto::Action Server::refuse(std::string_view line) {
  // §1.3 ENCRYPT-NEEDED. The data of a literal behind the refused command would be read as
  // commands: such a session ends here instead.
  if (ends_with_literal(line)) {
    state_ = State::Done;
    return proto::to_client("BYE (ENCRYPT-NEEDED) \"Use STARTTLS first\"\r\n", proto::Next::Close);
  }
  return proto::to_client("NO (ENCRYPT-NEEDED) \"Use STARTTLS first\"\r\n");
}

proto::Action Server::on_backend_line(std::string_view line) {
  switch (state_) {
    case State::Greeting:
    case State::Capabilities:
    case State::CapabilitiesTls:
    case State::Reply:
      break;
    case State::Command:
    case State::Done:
      return proto::serve_fail(Errc::Malformed, Fault::Local, "backend line out of turn");
  }
  if (++lines_ > params_.limits.max_reply_lines || (bytes_ += line.size() + 2) > params_.limits.max_reply_bytes) {
    state_ = State::Done;
    return proto::serve_fail(Errc::ReplyTooLong, Fault::Peer,
                             fmt::format("backend: response exceeds {} lines or {} bytes",
                                         params_.limits.max_reply_lines, params_.limits.max_reply_bytes));
  }
  if (state_ != State::Reply && !line.empty() && line.front() == '"') return on_capability_line(line);
  return on_status(line);
}

proto::Action Server::on_capability_line(std::string_view line) {
  const auto name = capability_name(line);
  if (name == "STARTTLS") {
    if (state_ == State::CapabilitiesTls) return read_backend();  // not offered again under TLS
    starttls_listed_ = true;
  }
  if (name == "SASL" && params_.require_tls && state_ != State::CapabilitiesTls) {
    return proto::to_client("\"SASL\" \"\"\r\n", proto::Next::ReadBackend);  // no mechanism before TLS
  }
  return proto::to_client(fmt::format("{}\r\n", line), proto::Next::ReadBackend);
}

proto::Action Server::on_status(std::string_view line) {
  const auto status = proto::upper(proto::word(line).first);
  const auto relayed = fmt::format("{}\r\n", line);
  if (status == "OK" && state_ != State::CapabilitiesTls) {
    const bool add = state_ != State::Reply && !starttls_listed_;
    state_ = State::Command;
    return proto::to_client(add ? "\"STARTTLS\"\r\n" + relayed : relayed);
  }
  if (status == "NO" && (state_ == State::Capabilities || state_ == State::Reply)) {
    state_ = State::Command;
    return proto::to_client(relayed);
  }
  if (status != "OK" && status != "NO" && status != "BYE" && !facts_.tls_established) {
    facts_.relayed_cleartext = true;  // a literal or garbage: no longer a dialogue we follow
  }
  // The list re-issued under TLS is complete; NO/BYE/garbage end what we follow. Relay.
  state_ = State::Done;
  return proto::to_client(relayed, proto::Next::Relay);
}

}  // namespace ostls::sieve
