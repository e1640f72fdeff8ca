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
  if (facts_.tls_established) {
    facts_.caps_tls = caps_;
    facts_.offered_after_tls = proto::lists_keyword(caps_, "STARTTLS");
    state_ = State::Done;
    return proto::Close{std::string(logout)};
  }
  facts_.caps_plain = caps_;
  const bool offered = proto::lists_keyword(caps_, "STARTTLS");
  facts_.starttls_offered = offered;
  const bool go = params_.upgrade == proto::Upgrade::Always || (params_.upgrade == proto::Upgrade::IfOffered && offered);
  if (!go) {
    state_ = State::Done;
    return proto::Close{std::string(logout)};
  }
  facts_.starttls_sent = true;
  state_ = State::Starttls;
  return proto::Send{"STARTTLS\r\n"};
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
