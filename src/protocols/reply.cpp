#include "protocols/reply.hpp"

#include <fmt/format.h>

namespace ostls::smtp {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

}  // namespace

std::string Reply::text() const {
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += " / ";
    out += l;
  }
  return out;
}

Result<std::optional<Reply>> ReplyReader::feed(std::string_view line) {
  // RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
  //                             Reply-code [ SP textstring ] CRLF
  if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
      line[0] < '2' || line[0] > '5' || (line.size() > 3 && line[3] != '-' && line[3] != ' ')) {
    partial_ = {};
    bytes_ = 0;
    return fail(Errc::Malformed, Fault::Peer, fmt::format("malformed reply line: \"{}\"", printable(line)));
  }
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (!partial_.lines.empty() && code != partial_.code) {
    partial_ = {};
    bytes_ = 0;
    return fail(Errc::Malformed, Fault::Peer,
                fmt::format("reply code changed within a multi-line reply: \"{}\"", printable(line)));
  }
  bytes_ += line.size() + 2;
  if (partial_.lines.size() + 1 > limits_.max_reply_lines || bytes_ > limits_.max_reply_bytes) {
    const auto lines = partial_.lines.size() + 1;
    partial_ = {};
    bytes_ = 0;
    return fail(Errc::ReplyTooLong, Fault::Peer,
                fmt::format("reply exceeds {} lines or {} bytes (at line {})", limits_.max_reply_lines,
                            limits_.max_reply_bytes, lines));
  }
  partial_.code = code;
  partial_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
  if (line.size() > 3 && line[3] == '-') return std::optional<Reply>{};
  Reply done = std::move(partial_);
  partial_ = {};
  bytes_ = 0;
  return std::optional<Reply>{std::move(done)};
}

}  // namespace ostls::smtp
