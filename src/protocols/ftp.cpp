#include "protocols/ftp.hpp"

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

}  // namespace ostls::ftp
