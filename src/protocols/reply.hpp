// SMTP-family reply grammar (RFC 5321 §4.2): "ddd-text" continuation lines ending with a
// "ddd text" (or bare "ddd") line, all with the same code. Used by SMTP, submission and LMTP.
// Bounded: at most limits.max_reply_lines lines and limits.max_reply_bytes bytes per reply.
// Does not: read from anything (it is fed lines), interpret enhanced status codes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/limits.hpp"

namespace ostls::smtp {

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // the text of each line, without code and separator

  [[nodiscard]] int klass() const { return code / 100; }  // 2, 3, 4 or 5
  [[nodiscard]] std::string text() const;                 // lines joined with " / "
};

class ReplyReader {
public:
  explicit ReplyReader(const Limits& limits) : limits_(limits) {}

  // Feeds one CRLF-stripped line. Returns nullopt while the reply continues, the Reply once its
  // last line arrived (the reader is then reset), or an error (Fault::Peer) for a malformed or
  // oversized reply.
  [[nodiscard]] Result<std::optional<Reply>> feed(std::string_view line);

private:
  Limits limits_;
  Reply partial_;
  std::size_t bytes_ = 0;
};

}  // namespace ostls::smtp
