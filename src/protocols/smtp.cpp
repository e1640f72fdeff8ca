#include "protocols/smtp.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "protocols/text.hpp"

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

std::string format_reply(const Reply& reply) {
  std::string out;
  for (std::size_t i = 0; i < reply.lines.size(); ++i) {
    const char sep = i + 1 < reply.lines.size() ? '-' : ' ';
    out += reply.lines[i].empty() && sep == ' ' ? fmt::format("{}\r\n", reply.code)
                                                : fmt::format("{}{}{}\r\n", reply.code, sep, reply.lines[i]);
  }
  return out;
}

Server::Server(ServerParams params) : params_(std::move(params)), reader_(params_.common.limits) {}

proto::Action Server::start() { return {{}, {}, proto::Next::ReadBackend, 0, std::nullopt}; }

proto::Action Server::on_tls_established() {
  facts_.tls_established = true;
  state_ = State::Done;
  // The client says EHLO again (RFC 3207 §4.2); the backend answers it without STARTTLS.
  return {{}, {}, proto::Next::Relay, 0, std::nullopt};
}

proto::Action Server::on_client_line(std::string_view line) {
  if (state_ != State::Command) return proto::serve_fail(Errc::Malformed, Fault::Local, "client line out of turn");
  const auto [verb_raw, args] = proto::word(line);
  const auto verb = proto::upper(verb_raw);
  if (verb == "STARTTLS") {
    if (!args.empty()) return proto::to_client("501 5.5.4 Syntax: STARTTLS\r\n");
    facts_.upgrade_requested = true;
    state_ = State::Done;
    return proto::to_client("220 2.0.0 Ready to start TLS\r\n", proto::Next::StartTls);
  }
  if (verb == "EHLO" || verb == "LHLO" || verb == "HELO" || verb == "NOOP" || verb == "RSET") {
    hello_ = verb == "EHLO" || verb == "LHLO";
    state_ = State::Reply;
    return proto::to_backend(fmt::format("{}\r\n", line));
  }
  if (verb == "QUIT") {
    state_ = State::Done;
    return proto::to_backend("QUIT\r\n", proto::Next::Relay);
  }
  if (params_.common.require_tls) return proto::to_client("530 5.7.0 Must issue a STARTTLS command first\r\n");
  state_ = State::Done;
  return proto::relay_cleartext(facts_, line);
}

proto::Action Server::on_backend_line(std::string_view line) {
  if (state_ != State::Greeting && state_ != State::Reply) {
    return proto::serve_fail(Errc::Malformed, Fault::Local, "backend line out of turn");
  }
  auto r = reader_.feed(line);
  if (!r) {
    state_ = State::Done;
    return proto::serve_fail(r.error().code, Fault::Peer, fmt::format("backend: {}", r.error().detail));
  }
  if (!r->has_value()) return {{}, {}, proto::Next::ReadBackend, 0, std::nullopt};
  return on_reply(std::move(**r));
}

proto::Action Server::on_reply(Reply reply) {
  if (state_ == State::Greeting && reply.code != 220) {
    // The backend turns the client away (421, 554): let it say so, then relay its close.
    state_ = State::Done;
    return proto::to_client(format_reply(reply), proto::Next::Relay);
  }
  if (hello_ && reply.code == 250) {
    if (reply.lines.empty()) reply.lines.emplace_back();
    if (!lists(keywords_of(reply), "STARTTLS")) reply.lines.emplace_back("STARTTLS");
  }
  hello_ = false;
  state_ = State::Command;
  return proto::to_client(format_reply(reply));
}

}  // namespace ostls::smtp
