// Errors of operations that can fail (I/O, parsing, lookups), and whose fault they are.
// A Fault decides the consequence (defer, fail, usage error), after Postfix's dane_incompat().
// An Error is not an Outcome: a cleartext delivery at `may` is a complete outcome, not an error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/expected.hpp"

namespace ostls {

enum class Fault : std::uint8_t { None, Config, Local, Network, Dns, Peer, Policy };

// The short list of conditions callers branch on; everything else goes in `detail`.
enum class Errc : std::uint8_t {
  Usage,             // bad command line or configuration
  Resolve,           // host name did not resolve
  Connect,           // TCP connection refused / unreachable
  Timeout,           // a deadline expired
  Closed,            // the peer closed the connection (EOF or reset)
  Io,                // other socket error
  LineTooLong,       // a line exceeded its limit
  ReplyTooLong,      // a multi-line reply exceeded its line or byte limit
  Malformed,         // the peer sent something the grammar does not allow
  TempRejected,      // the peer answered with a temporary failure (SMTP 4xx)
  Rejected,          // the peer answered with a permanent failure (SMTP 5xx)
  Handshake,         // the TLS handshake failed
  Tls,               // other TLS-layer failure
  Store,             // the store (SQLite / PostgreSQL) failed or is unusable
};

std::string_view name(Fault f);
std::string_view name(Errc e);

struct Error {
  Errc code;
  Fault fault;
  std::string detail;
};

template <class T>
using Result = expected<T, Error>;

inline unexpected<Error> fail(Errc code, Fault fault, std::string detail) {
  return unexpected<Error>(Error{code, fault, std::move(detail)});
}

}  // namespace ostls
