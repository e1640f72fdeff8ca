#include "protocols/postgres.hpp"

#include <fmt/format.h>

namespace ostls::postgres {

std::string ssl_request() {
  // Int32 length (8), Int32 code 80877103 (0x04d2162f), both big-endian.
  return std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);
}

proto::Step Client::start() {
  if (params_.upgrade == proto::Upgrade::Never) return proto::Close{};  // nothing to ask, nothing to learn
  facts_.starttls_sent = true;
  return proto::Send{ssl_request(), 1};
}

proto::Step Client::on_bytes(std::string_view bytes) {
  if (answered_ || bytes.empty()) {
    return proto::Fail{Error{Errc::Malformed, Fault::Peer, "unexpected bytes after the SSL negotiation"}};
  }
  answered_ = true;
  switch (bytes.front()) {
    case 'S':
      facts_.starttls_accepted = true;
      return proto::StartTls{};
    case 'N':
      facts_.refusal = "N (the server does not do SSL)";
      return proto::Close{};
    case 'E':
      // A pre-7.0 server or an error: an ErrorResponse instead of the one-byte answer.
      facts_.refusal = "E (ErrorResponse to SSLRequest)";
      return proto::Close{};
    default:
      return proto::Fail{Error{Errc::Malformed, Fault::Peer,
                               fmt::format("answer to SSLRequest is neither 'S' nor 'N' (0x{:02x})",
                                           static_cast<unsigned char>(bytes.front()))}};
  }
}

proto::Step Client::on_tls_established() {
  facts_.tls_established = true;
  return proto::Close{};
}

}  // namespace ostls::postgres
