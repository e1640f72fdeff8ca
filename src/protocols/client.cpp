#include "protocols/client.hpp"

#include <fmt/format.h>

namespace ostls::proto {
namespace {

using Machine = std::variant<smtp::Client, imap::Client, pop3::Client, sieve::Client, nntp::Client, ftp::Client,
                             irc::Client, ldap::Client, postgres::Client, xmpp::Client>;

Step wrong_kind(std::string_view what) {
  return Fail{Error{Errc::Malformed, Fault::Local, fmt::format("this protocol is not {}", what)}};
}

Machine make(Family family, const ClientOptions& o) {
  switch (family) {
    case Family::Smtp:
    case Family::Lmtp:
      return smtp::Client({.helo = o.helo,
                           .lmtp = family == Family::Lmtp,
                           .implicit_tls = o.implicit_tls,
                           .upgrade = o.upgrade,
                           .helo_fallback = o.helo_fallback,
                           .limits = o.limits});
    case Family::Imap:
      return imap::Client({.implicit_tls = o.implicit_tls, .upgrade = o.upgrade, .limits = o.limits});
    case Family::Pop3:
      return pop3::Client({.implicit_tls = o.implicit_tls, .upgrade = o.upgrade, .limits = o.limits});
    case Family::Sieve:
      return sieve::Client({.upgrade = o.upgrade, .limits = o.limits});
    case Family::Nntp:
      return nntp::Client({.implicit_tls = o.implicit_tls, .upgrade = o.upgrade, .limits = o.limits});
    case Family::Ftp:
      return ftp::Client({.implicit_tls = o.implicit_tls, .upgrade = o.upgrade, .limits = o.limits});
    case Family::Irc:
      return irc::Client({.implicit_tls = o.implicit_tls, .upgrade = o.upgrade, .limits = o.limits});
    case Family::Ldap:
      return ldap::Client({.implicit_tls = o.implicit_tls, .upgrade = o.upgrade, .limits = o.limits});
    case Family::Postgres:
      return postgres::Client({.upgrade = o.upgrade});
    case Family::Xmpp:
    case Family::XmppServer:
      return xmpp::Client({.domain = o.xmpp_domain,
                           .server_to_server = family == Family::XmppServer,
                           .implicit_tls = o.implicit_tls,
                           .upgrade = o.upgrade,
                           .limits = o.limits});
  }
  return smtp::Client({});
}

}  // namespace

AnyClient::AnyClient(Family family, const ClientOptions& options) : machine_(make(family, options)) {}

Step AnyClient::start() {
  return std::visit([](auto& m) { return m.start(); }, machine_);
}
Step AnyClient::on_line(std::string_view line) {
  return std::visit(
      [line](auto& m) -> Step {
        if constexpr (requires { m.on_line(line); }) return m.on_line(line);
        else return wrong_kind("line-based");
      },
      machine_);
}
Step AnyClient::on_bytes(std::string_view bytes) {
  return std::visit(
      [bytes](auto& m) -> Step {
        if constexpr (requires { m.on_bytes(bytes); }) return m.on_bytes(bytes);
        else return wrong_kind("binary");
      },
      machine_);
}
Step AnyClient::on_tls_established() {
  return std::visit([](auto& m) { return m.on_tls_established(); }, machine_);
}
const Facts& AnyClient::facts() const {
  return std::visit([](const auto& m) -> const Facts& { return m.facts(); }, machine_);
}

}  // namespace ostls::proto
