// Every server-role machine (proto::AnyServer) on hostile input from both sides — the client's
// commands and the backend's replies, interleaved as the input says: never a crash, a loop, or
// a handshake the client did not ask for.
// First byte: family and require_tls; second byte: limits; then records, each one byte of side
// (even: client, odd: backend) followed by the data up to the next '\n' (a line for line-based
// machines, raw bytes for binary ones).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocols/any_server.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ostls::proto::Family;
  using ostls::proto::Next;
  if (size < 2) return 0;
  static constexpr Family families[] = {Family::Smtp, Family::Lmtp, Family::Imap, Family::Pop3,
                                        Family::Sieve, Family::Nntp, Family::Ftp, Family::Irc,
                                        Family::Ldap, Family::Postgres, Family::Xmpp, Family::XmppServer,
                                        Family::Smtp, Family::Imap, Family::Pop3, Family::Ldap};
  ostls::Limits limits;
  limits.max_reply_lines = 1u + (data[1] & 0x3f);
  limits.max_reply_bytes = 64u + 32u * data[1];
  auto server = ostls::proto::AnyServer::make(families[data[0] & 15],
                                              {.require_tls = (data[0] & 16) != 0, .limits = limits});
  if (!server) return 0;  // a family without a server role
  auto action = server->start();
  int upgrades = 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  while (!in.empty()) {
    if (action.next == Next::Relay || action.next == Next::Close || action.next == Next::Fail) break;
    if (action.next == Next::StartTls) {
      // Properties: one upgrade, only after the client asked for it.
      if (++upgrades > 1 || !server->facts().upgrade_requested) __builtin_trap();
      action = server->on_tls_established();
      continue;
    }
    if (action.next == Next::ConnectBackend) {
      action = server->on_backend_connected();
      continue;
    }
    const bool backend = (static_cast<unsigned char>(in.front()) & 1) != 0;
    in.remove_prefix(1);
    const auto nl = in.find('\n');
    const auto chunk = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    // The driver reads from the side the machine asked for; input for the other side is what a
    // confused driver would deliver, and must fail closed rather than misbehave.
    if (action.read_bytes > 0) {
      // As the driver does: never more bytes than the machine asked for.
      for (auto rest = chunk; !rest.empty() && action.read_bytes > 0 &&
                              (action.next == Next::ReadClient || action.next == Next::ReadBackend);) {
        const auto piece = rest.substr(0, action.read_bytes);
        rest.remove_prefix(piece.size());
        action = backend ? server->on_backend_bytes(piece) : server->on_client_bytes(piece);
      }
    } else {
      action = backend ? server->on_backend_line(chunk) : server->on_client_line(chunk);
    }
  }
  return 0;
}
