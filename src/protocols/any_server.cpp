#include "protocols/any_server.hpp"

#include <fmt/format.h>

namespace ostls::proto {
namespace {

Action wrong_kind(std::string_view what) {
  return serve_fail(Errc::Malformed, Fault::Local, fmt::format("this protocol's server role has no {}", what));
}

}  // namespace

Result<AnyServer> AnyServer::make(Family family, const ServerParams& params) {
  switch (family) {
    case Family::Smtp:
    case Family::Lmtp:
      return AnyServer(smtp::Server({.lmtp = family == Family::Lmtp, .common = params}));
    case Family::Imap:
      return AnyServer(imap::Server(params));
    case Family::Pop3:
      return AnyServer(pop3::Server(params));
    case Family::Ldap:
      return AnyServer(ldap::Server(params));
    case Family::Postgres:
      return AnyServer(postgres::Server(params));
    case Family::Xmpp:
    case Family::XmppServer:
      return AnyServer(xmpp::Server({.server_to_server = family == Family::XmppServer, .common = params}));
    case Family::Sieve:
      return AnyServer(sieve::Server(params));
    case Family::Nntp:
      return AnyServer(nntp::Server(params));
    case Family::Ftp:
      return AnyServer(ftp::Server(params));
    case Family::Irc:
      return AnyServer(irc::Server(params));
  }
  return fail(Errc::Usage, Fault::Config, "this protocol has no server role yet");
}

Action AnyServer::start() {
  return std::visit([](auto& m) { return m.start(); }, machine_);
}
Action AnyServer::on_client_line(std::string_view line) {
  return std::visit(
      [line](auto& m) -> Action {
        if constexpr (requires { m.on_client_line(line); }) return m.on_client_line(line);
        else return wrong_kind("line input");
      },
      machine_);
}
Action AnyServer::on_backend_line(std::string_view line) {
  return std::visit(
      [line](auto& m) -> Action {
        if constexpr (requires { m.on_backend_line(line); }) return m.on_backend_line(line);
        else return wrong_kind("line input");
      },
      machine_);
}
Action AnyServer::on_client_bytes(std::string_view bytes) {
  return std::visit(
      [bytes](auto& m) -> Action {
        if constexpr (requires { m.on_client_bytes(bytes); }) return m.on_client_bytes(bytes);
        else return wrong_kind("binary input");
      },
      machine_);
}
Action AnyServer::on_backend_bytes(std::string_view bytes) {
  return std::visit(
      [bytes](auto& m) -> Action {
        if constexpr (requires { m.on_backend_bytes(bytes); }) return m.on_backend_bytes(bytes);
        else return wrong_kind("binary input");
      },
      machine_);
}
Action AnyServer::on_tls_established() {
  return std::visit([](auto& m) { return m.on_tls_established(); }, machine_);
}
Action AnyServer::on_backend_connected() {
  return std::visit(
      [](auto& m) -> Action {
        if constexpr (requires { m.on_backend_connected(); }) return m.on_backend_connected();
        else return wrong_kind("backend reconnection");
      },
      machine_);
}
const ServerFacts& AnyServer::facts() const {
  return std::visit([](const auto& m) -> const ServerFacts& { return m.facts(); }, machine_);
}

}  // namespace ostls::proto
