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
