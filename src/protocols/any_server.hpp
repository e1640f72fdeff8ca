// One server-role dialogue for any protocol of the registry (the server-side twin of
// client.hpp): the machine chosen by the protocol's family, behind one interface, so the
// session driver (net/serve.hpp) and later `ostls proxy` serve every protocol the same way.
#pragma once

#include <string_view>
#include <variant>

#include "core/error.hpp"
#include "protocols/ftp.hpp"
#include "protocols/imap.hpp"
#include "protocols/irc.hpp"
#include "protocols/ldap.hpp"
#include "protocols/nntp.hpp"
#include "protocols/pop3.hpp"
#include "protocols/postgres.hpp"
#include "protocols/registry.hpp"
#include "protocols/server.hpp"
#include "protocols/sieve.hpp"
#include "protocols/smtp.hpp"
#include "protocols/xmpp.hpp"

namespace ostls::proto {

class AnyServer {
public:
  // Errc::Usage for a family without a server role.
  [[nodiscard]] static Result<AnyServer> make(Family family, const ServerParams& params);

  [[nodiscard]] Action start();
  [[nodiscard]] Action on_client_line(std::string_view line);    // line-based protocols
  [[nodiscard]] Action on_backend_line(std::string_view line);
  [[nodiscard]] Action on_client_bytes(std::string_view bytes);  // binary protocols (LDAP, PostgreSQL)
  [[nodiscard]] Action on_backend_bytes(std::string_view bytes);
  [[nodiscard]] Action on_tls_established();
  [[nodiscard]] Action on_backend_connected();                  // after Next::ConnectBackend
  [[nodiscard]] const ServerFacts& facts() const;

private:
  using Machine = std::variant<smtp::Server, imap::Server, pop3::Server, ldap::Server, postgres::Server, xmpp::Server, sieve::Server, nntp::Server, ftp::Server, irc::Server>;
  explicit AnyServer(Machine machine) : machine_(std::move(machine)) {}

  Machine machine_;
};

}  // namespace ostls::proto
