// LDAP BER from the network: element_size, parse_extended_response, the StartTLS client fed the
// input in chunks of the sizes it asks for (never more), as the driver does; and the server
// side: parse_request (+ refusal), and the server machine fed the same way, with and without
// require_tls. Properties: no request for zero bytes (the driver would spin), no upgrade the
// client did not ask for, and the server never consumes more than it asked for (R10).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "protocols/ldap.hpp"

namespace {

void client(std::string_view in) {
  ostls::ldap::Client client({});
  auto step = client.start();
  std::size_t pos = 0;
  std::size_t want = std::get<ostls::proto::Send>(step).then_read_bytes;
  for (int rounds = 0; rounds < 64 && pos < in.size(); ++rounds) {
    const auto chunk = in.substr(pos, want);
    pos += chunk.size();
    step = client.on_bytes(chunk);
    if (auto* more = std::get_if<ostls::proto::ReadBytes>(&step)) {
      if (more->max == 0) __builtin_trap();  // a request for nothing would spin the driver
      want = more->max;
      continue;
    }
    break;
  }
}

void server(std::string_view in, bool require_tls) {
  using ostls::proto::Next;
  ostls::Limits limits;
  limits.max_reply_bytes = 1024;
  ostls::ldap::Server server({.require_tls = require_tls, .limits = limits});
  auto action = server.start();
  std::size_t pos = 0;
  for (int rounds = 0; rounds < 4096 && pos < in.size() && action.next == Next::ReadClient; ++rounds) {
    if (action.read_bytes == 0) __builtin_trap();  // the driver would read a line from a binary peer
    // Vary the read sizes as TCP does: at most what was asked for, sometimes less.
    const auto n = (static_cast<unsigned char>(in[pos]) & 1) ? action.read_bytes : (action.read_bytes + 1) / 2;
    const auto chunk = in.substr(pos, n);
    pos += chunk.size();
    action = server.on_client_bytes(chunk);
  }
  if (action.next == Next::StartTls) {
    if (!server.facts().upgrade_requested) __builtin_trap();
    if (server.on_tls_established().next != Next::Relay) __builtin_trap();
  }
  if (action.next == Next::Relay && !server.facts().relayed_cleartext && !server.facts().tls_established) {
    __builtin_trap();  // relaying without TLS must be recorded
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto n = ostls::ldap::element_size(in, 4096); n && *n && **n > 4096 + 6) __builtin_trap();
  (void)ostls::ldap::parse_extended_response(in);
  if (auto r = ostls::ldap::parse_request(in)) {
    if (r->message_id <= 0) __builtin_trap();  // 0 is reserved for notices
    (void)ostls::ldap::refusal(*r, ostls::ldap::result_confidentiality_required, "TLS first");
  }
  client(in);
  server(in, false);
  server(in, true);
  return 0;
}
