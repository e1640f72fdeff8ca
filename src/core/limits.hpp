// Bounds on what a peer can make us buffer. Every limit has a default here and a command-line
// option (see README "Limits"); exceeding one is a clean, reported error with Fault::Peer.
#pragma once

#include <cstddef>

namespace ostls {

struct Limits {
  std::size_t max_line = 4096;          // one protocol line, CRLF included
  std::size_t max_reply_lines = 256;    // lines of one multi-line reply
  std::size_t max_reply_bytes = 65536;  // bytes of one multi-line reply
};

}  // namespace ostls
