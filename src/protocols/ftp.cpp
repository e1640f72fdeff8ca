#include "protocols/ftp.hpp"

#include <utility>

#include <fmt/format.h>

#include "protocols/text.hpp"

namespace ostls::ftp {
namespace {

constexpr std::string_view quit = "QUIT\r\n";

int code_of(std::string_view line) {
  if (line.size() < 3) return -1;
  int code = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    if (line[i] < '0' || line[i] > '9') return -1;
    code = code * 10 + (line[i] - '0');
  }
  return code;
}

// FEAT lines are " FEATURE params"; "AUTH TLS" may also be "AUTH TLS;TLS-C;SSL".
std::vector<std::string> features(const Reply& r) {
  std::vector<std::string> out;
  for (std::size_t i = 1; i + 1 < r.lines.size(); ++i) {
    auto l = std::string_view(r.lines[i]);
    while (!l.empty() && l.front() == ' ') l.remove_prefix(1);
    if (!l.empty()) out.emplace_back(l);
  }
  return out;
}

bool offers_auth_tls(const std::vector<std::string>& feats) {
  for (const auto& f : feats) {
    const auto [name, params] = proto::word(f);
    if (proto::upper(name) != "AUTH") continue;
    const auto p = proto::upper(params);
    if (p == "TLS" || p.starts_with("TLS;") || p.find(";TLS;") != std::string::npos || p.ends_with(";TLS")) return true;
  }
  return false;
}

}  // namespace

Result<std::optional<Reply>> ReplyReader::feed(std::string_view line) {
  const int code = code_of(line);
  const bool sep_ok = line.size() == 3 || (line.size() > 3 && (line[3] == ' ' || line[3] == '-'));
  if (!partial_) {
    if (code < 100 || code > 599 || !sep_ok) {
      return fail(Errc::Malformed, Fault::Peer, fmt::format("malformed FTP reply: \"{}\"", proto::printable(line)));
    }
    Reply r{.code = code, .lines = {std::string(line.size() > 4 ? line.substr(4) : std::string_view{})}};
    if (line.size() > 3 && line[3] == '-') {
      partial_ = std::move(r);
      bytes_ = line.size();
      return std::optional<Reply>{};
    }
    return std::optional<Reply>{std::move(r)};
  }
  bytes_ += line.size() + 2;
  if (partial_->lines.size() + 1 > limits_.max_reply_lines || bytes_ > limits_.max_reply_bytes) {
    partial_.reset();
    return fail(Errc::ReplyTooLong, Fault::Peer, "multi-line FTP reply too long");
  }
  if (code == partial_->code && line.size() >= 3 && (line.size() == 3 || line[3] == ' ')) {
    partial_->lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
    Reply done = std::move(*partial_);
    partial_.reset();
    return std::optional<Reply>{std::move(done)};
  }
  partial_->lines.emplace_back(line);
  return std::optional<Reply>{};
}

Client::Client(ClientParams params) : params_(std::move(params)), reader_(params_.limits) {}

proto::Step Client::start() { return proto::ReadLine{}; }

proto::Step Client::fail(Errc code, std::string detail) {
  state_ = State::Done;
  return proto::Fail{Error{code, Fault::Peer, std::move(detail)}};
}

proto::Step Client::on_tls_established() {
  facts_.tls_established = true;
  if (params_.implicit_tls) {
    state_ = State::Greeting;
    return proto::ReadLine{};
  }
  state_ = State::Pbsz;  // RFC 4217 §9: PBSZ 0 then PROT P protect the data channel too
  return proto::Send{"PBSZ 0\r\n"};
}

proto::Step Client::on_line(std::string_view line) {
  if (state_ == State::Done) return fail(Errc::Malformed, "reply after the dialogue ended");
  auto r = reader_.feed(line);
  if (!r) {
    state_ = State::Done;
    return proto::Fail{r.error()};
  }
  if (!r->has_value()) return proto::ReadLine{};
  return on_reply(std::move(**r));
}

proto::Step Client::after_feat(const Reply& reply) {
  auto feats = reply.code == 211 ? features(reply) : std::vector<std::string>{};
  const bool offered = offers_auth_tls(feats);
  auto next = proto::after_capabilities(facts_, {std::move(feats), offered}, params_.upgrade, "AUTH TLS\r\n",
                                        std::string(quit));
  if (facts_.tls_established) facts_.offered_after_tls = false;  // AUTH TLS after TLS is meaningless, not a sign
  state_ = next.upgrading ? State::AuthTls : State::Done;
  return std::move(next.step);
}

proto::Step Client::on_reply(Reply reply) {
  const auto text = fmt::format("{} {}", reply.code, proto::printable(reply.lines.back()));
  switch (state_) {
    case State::Greeting:
      if (reply.code == 120) return proto::ReadLine{};  // "ready in nnn minutes": wait for 220
      if (reply.code / 100 == 4) return fail(Errc::TempRejected, "greeting: " + text);
      if (reply.code != 220) return fail(Errc::Rejected, "greeting: " + text);
      state_ = facts_.tls_established ? State::FeatTls : State::Feat;
      return proto::Send{"FEAT\r\n"};
    case State::Feat:
    case State::FeatTls:
      return after_feat(reply);  // 500/502: FEAT unknown, nothing advertised
    case State::AuthTls:
      if (reply.code == 234) {
        facts_.starttls_accepted = true;
        state_ = State::Done;
        return proto::StartTls{};
      }
      facts_.refusal = text;  // 504 / 534 / 4xx: no handshake after a refusal
      state_ = State::Done;
      return proto::Close{std::string(quit)};
    case State::Pbsz:
      if (reply.code / 100 != 2) return fail(Errc::Rejected, "PBSZ 0: " + text);
      state_ = State::Prot;
      return proto::Send{"PROT P\r\n"};
    case State::Prot:
      if (reply.code / 100 != 2) return fail(Errc::Rejected, "PROT P: " + text);
      state_ = State::FeatTls;
      return proto::Send{"FEAT\r\n"};
    case State::Done:
      break;
  }
  return fail(Errc::Malformed, "reply after the dialogue ended");
}

namespace {

// RFC 959 §4.1: the commands that open (or set up) a data connection. The front does not
// proxy data connections, so from here on the session is a plain relay.
bool opens_data_connection(std::string_view verb) {
  return verb == "PASV" || verb == "EPSV" || verb == "PORT" || verb == "EPRT" || verb == "LPSV" || verb == "LPRT";
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

}  // namespace

Server::Server(proto::ServerParams params) : params_(std::move(params)), reader_(params_.limits) {}

proto::Action Server::start() { return {{}, {}, proto::Next::ReadBackend, 0, std::nullopt}; }

proto::Action Server::on_tls_established() {
  facts_.tls_established = true;
  state_ = State::Command;  // PBSZ and PROT follow (RFC 4217 §9): answered here
  return {{}, {}, proto::Next::ReadClient, 0, std::nullopt};
}

proto::Action Server::forward(std::string_view line, bool feat) {
  state_ = State::Reply;
  feat_ = feat;
  auth_listed_ = pbsz_listed_ = prot_listed_ = false;
  return proto::to_backend(fmt::format("{}\r\n", line));
}

proto::Action Server::on_client_line(std::string_view line) {
  if (state_ != State::Command) return proto::serve_fail(Errc::Malformed, Fault::Local, "client line out of turn");
  const auto [verb_raw, args] = proto::word(line);
  const auto verb = proto::upper(verb_raw);
  if (facts_.tls_established) return on_tls_command(verb, args, line);
  if (verb == "AUTH") {
    const auto mechanism = proto::upper(args);
    if (mechanism != "TLS" && mechanism != "TLS-C") return proto::to_client("504 Only AUTH TLS is supported\r\n");
    facts_.upgrade_requested = true;
    state_ = State::Done;
    return proto::to_client("234 Proceed with TLS negotiation\r\n", proto::Next::StartTls);
  }
  // RFC 4217 §8-9: PBSZ and PROT only follow a security exchange.
  if (verb == "PBSZ" || verb == "PROT") return proto::to_client("503 AUTH TLS first\r\n");
  if (verb == "FEAT" || verb == "NOOP" || verb == "SYST" || verb == "HELP") return forward(line, verb == "FEAT");
  if (verb == "QUIT") {
    state_ = State::Done;
    return proto::to_backend(fmt::format("{}\r\n", line), proto::Next::Relay);
  }
  if (params_.require_tls) return proto::to_client("530 TLS required on the control connection: use AUTH TLS first\r\n");
  state_ = State::Done;
  return proto::relay_cleartext(facts_, line);
}

proto::Action Server::on_tls_command(std::string_view verb, std::string_view args, std::string_view line) {
  // RFC 4217 §8: a TLS mechanism has no buffer; any size is answered with PBSZ=0.
  if (verb == "PBSZ") {
    if (args.empty() || args.find_first_not_of("0123456789") != std::string_view::npos) {
      return proto::to_client("501 Syntax error in PBSZ\r\n");
    }
    return proto::to_client("200 PBSZ=0\r\n");
  }
  // RFC 4217 §9. The backend is plaintext-only and data connections are not proxied, so only
  // Clear can be honoured. PROT without a prior PBSZ is accepted (Python's ftplib sends it so).
  if (verb == "PROT") {
    const auto level = proto::upper(args);
    if (level == "C") return proto::to_client("200 Protection level set to Clear\r\n");
    if (level == "P" || level == "S" || level == "E") {
      return proto::to_client("536 Only PROT C: this server protects the control connection only\r\n");
    }
    return proto::to_client("504 Unknown protection level\r\n");
  }
  if (verb == "AUTH") return proto::to_client("503 TLS is already established\r\n");
  if (opens_data_connection(verb) || verb == "REIN" || verb == "QUIT") {
    state_ = State::Done;
    return proto::to_backend(fmt::format("{}\r\n", line), proto::Next::Relay);
  }
  return forward(line, verb == "FEAT");
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
  if (r->has_value()) return on_reply(**r, line);
  // Inside a multi-line reply: relayed as it comes (bounded by the reader).
  if (feat_) return on_feat_line(line);
  return proto::to_client(fmt::format("{}\r\n", line), proto::Next::ReadBackend);
}

proto::Action Server::on_feat_line(std::string_view line) {
  if (!line.empty() && line.front() == ' ') {  // RFC 2389 §3.2: " FEATURE params"
    const auto [name_raw, params] = proto::word(trim_left(line));
    const auto name = proto::upper(name_raw);
    if (name == "AUTH") {
      if (facts_.tls_established) return {{}, {}, proto::Next::ReadBackend, 0, std::nullopt};  // done already
      const auto p = ";" + proto::upper(params) + ";";
      auth_listed_ = auth_listed_ || p.find(";TLS;") != std::string::npos;
    }
    pbsz_listed_ = pbsz_listed_ || name == "PBSZ";
    prot_listed_ = prot_listed_ || name == "PROT";
  }
  return proto::to_client(fmt::format("{}\r\n", line), proto::Next::ReadBackend);
}

std::string Server::feat_additions() const {
  std::string out;
  if (!facts_.tls_established && !auth_listed_) out += " AUTH TLS\r\n";
  if (!pbsz_listed_) out += " PBSZ\r\n";
  if (!prot_listed_) out += " PROT\r\n";
  return out;
}

proto::Action Server::on_reply(const Reply& reply, std::string_view last_line) {
  auto relayed = fmt::format("{}\r\n", last_line);
  if (reply.code / 100 == 1) return proto::to_client(std::move(relayed), proto::Next::ReadBackend);  // the final reply follows
  const bool greeting = state_ == State::Greeting;
  if ((greeting && reply.code != 220) || reply.code == 421) {
    // The backend turns the client away or closes: relayed, then its close.
    state_ = State::Done;
    return proto::to_client(std::move(relayed), proto::Next::Relay);
  }
  state_ = State::Command;
  if (!std::exchange(feat_, false)) return proto::to_client(std::move(relayed));
  if (reply.code == 211 && reply.lines.size() > 1) return proto::to_client(feat_additions() + relayed);
  if (reply.lines.size() == 1 && (reply.code == 211 || reply.code >= 500)) {
    // RFC 2389 §3.2: "211 no features", or a backend without FEAT: ours lists what we add.
    return proto::to_client(fmt::format("211-Features:\r\n{}211 End\r\n", feat_additions()));
  }
  return proto::to_client(std::move(relayed));
}

}  // namespace ostls::ftp
