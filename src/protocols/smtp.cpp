#include "protocols/smtp.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace ostls::smtp {
namespace {

constexpr std::string_view quit = "QUIT\r\n";

std::string upper_keyword(std::string_view line) {
  std::string kw;
  for (char c : line) {
    if (c == ' ' || c == '=') break;
    kw += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return kw;
}

std::vector<std::string> keywords_of(const Reply& ehlo) {
  // The first line of an EHLO reply is the server's name; the rest are extensions.
  if (ehlo.lines.size() < 2) return {};
  return {ehlo.lines.begin() + 1, ehlo.lines.end()};
}

proto::Fail rejected(const Reply& r, std::string_view what) {
  const auto code = r.klass() == 4 ? Errc::TempRejected : Errc::Rejected;
  return {Error{code, Fault::Peer, fmt::format("{} rejected: {} {}", what, r.code, r.text())}};
}

}  // namespace

bool lists(const std::vector<std::string>& caps, std::string_view keyword) {
  return std::any_of(caps.begin(), caps.end(),
                     [&](const std::string& c) { return upper_keyword(c) == keyword; });
}

bool looks_masked(std::string_view keyword) {
  constexpr std::string_view real = "STARTTLS";
  if (keyword.size() != real.size()) return false;
  std::size_t xs = 0, off = 0;
  for (std::size_t i = 0; i < real.size(); ++i) {
    const auto c = static_cast<char>(std::toupper(static_cast<unsigned char>(keyword[i])));
    xs += c == 'X';
    off += c != real[i];
  }
  return off != 0 && (xs >= 6 || off <= 2);
}

Client::Client(ClientParams params) : params_(std::move(params)), reader_(params_.limits) {}

proto::Step Client::start() { return proto::ReadLine{}; }

proto::Step Client::on_line(std::string_view line) {
  if (state_ == State::Done) {
    // Fail closed: nothing the peer says after the end (or after a failure) is acted on.
    return proto::Fail{Error{Errc::Malformed, Fault::Peer, "reply after the dialogue ended"}};
  }
  auto r = reader_.feed(line);
  if (!r) {
    state_ = State::Done;
    return proto::Fail{r.error()};
  }
  if (!r->has_value()) return proto::ReadLine{};
  return on_reply(std::move(**r));
}

std::string Client::hello_command(bool helo) const {
  const std::string_view verb = helo ? "HELO" : (params_.lmtp ? "LHLO" : "EHLO");
  return fmt::format("{} {}\r\n", verb, params_.helo);
}

proto::Step Client::on_tls_established() {
  facts_.tls_established = true;
  if (params_.implicit_tls) {
    state_ = State::Greeting;
    return proto::ReadLine{};
  }
  // RFC 3207 §4.2: forget everything learnt before TLS and say EHLO again.
  state_ = State::EhloTls;
  return proto::Send{hello_command(false)};
}

proto::Step Client::on_reply(Reply reply) {
  switch (state_) {
    case State::Greeting:
      if (reply.code != 220) {
        state_ = State::Done;
        return rejected(reply, "greeting");
      }
      state_ = params_.implicit_tls ? State::EhloTls : State::Ehlo;
      return proto::Send{hello_command(false)};
    case State::Ehlo:
      return after_ehlo(std::move(reply));
    case State::Helo:
      if (reply.klass() != 2) {
        state_ = State::Done;
        return rejected(reply, "HELO");
      }
      state_ = State::Done;
      if (params_.upgrade == proto::Upgrade::Always) {
        state_ = State::Starttls;
        facts_.starttls_sent = true;
        return proto::Send{"STARTTLS\r\n"};
      }
      return proto::Close{std::string(quit)};
    case State::Starttls:
      return after_starttls(std::move(reply));
    case State::EhloTls:
      if (reply.klass() != 2) {
        state_ = State::Done;
        return rejected(reply, "EHLO after TLS");
      }
      facts_.caps_tls = keywords_of(reply);
      facts_.offered_after_tls = lists(facts_.caps_tls, "STARTTLS");
      facts_.requiretls = lists(facts_.caps_tls, "REQUIRETLS");
      state_ = State::Done;
      return proto::Close{std::string(quit)};
    case State::Done:
      break;
  }
  return proto::Fail{Error{Errc::Malformed, Fault::Peer, "reply after the dialogue ended"}};
}

proto::Step Client::after_ehlo(Reply reply) {
  if (reply.klass() == 5 && params_.helo_fallback && !params_.lmtp) {
    facts_.starttls_offered = false;
    facts_.events.push_back({EventType::HeloFallback, "EHLO rejected; HELO used, so no extensions were seen"});
    state_ = State::Helo;
    return proto::Send{hello_command(true)};
  }
  if (reply.klass() != 2) {
    state_ = State::Done;
    return rejected(reply, params_.lmtp ? "LHLO" : "EHLO");
  }
  facts_.caps_plain = keywords_of(reply);
  const bool offered = lists(facts_.caps_plain, "STARTTLS");
  facts_.starttls_offered = offered;
  for (const auto& cap : facts_.caps_plain) {
    const auto kw = upper_keyword(cap);
    if (looks_masked(kw)) {
      facts_.events.push_back({EventType::StarttlsMasked,
                               fmt::format("EHLO lists \"{}\" where STARTTLS is expected: a middlebox may be hiding it", kw)});
    }
  }
  const bool send = params_.upgrade == proto::Upgrade::Always ||
                    (params_.upgrade == proto::Upgrade::IfOffered && offered);
  if (!send) {
    state_ = State::Done;
    return proto::Close{std::string(quit)};
  }
  state_ = State::Starttls;
  facts_.starttls_sent = true;
  return proto::Send{"STARTTLS\r\n"};
}

proto::Step Client::after_starttls(Reply reply) {
  if (reply.code == 220) {
    facts_.starttls_accepted = true;
    // The driver checks that nothing was pipelined behind this reply (R10).
    state_ = State::Done;
    return proto::StartTls{};
  }
  // RFC 3207 §4: 454 (temporary) or 501/5xx; either way, no handshake after a refusal.
  facts_.refusal = fmt::format("{} {}", reply.code, reply.text());
  state_ = State::Done;
  return proto::Close{std::string(quit)};
}

}  // namespace ostls::smtp
