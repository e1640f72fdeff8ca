// One client dialogue for any protocol of the registry: the machine chosen by the protocol's
// family, behind the same start / on_line / on_tls_established / facts shape, so the probe (and
// later scan and proxy) drive every protocol the same way. Pure, like the machines.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "core/limits.hpp"
#include "protocols/ftp.hpp"
#include "protocols/imap.hpp"
#include "protocols/irc.hpp"
#include "protocols/ldap.hpp"
#include "protocols/nntp.hpp"
#include "protocols/pop3.hpp"
#include "protocols/postgres.hpp"
#include "protocols/sieve.hpp"
#include "protocols/protocol.hpp"
#include "protocols/registry.hpp"
#include "protocols/smtp.hpp"
#include "protocols/xmpp.hpp"

namespace ostls::proto {

struct ClientOptions {
  std::string helo = "localhost";  // SMTP/LMTP only
  std::string xmpp_domain;         // XMPP only: the stream's `to`
  bool implicit_tls = false;
  Upgrade upgrade = Upgrade::IfOffered;
  bool helo_fallback = true;       // SMTP only: EHLO 5xx → HELO when TLS is not required
  Limits limits;
};

class AnyClient {
public:
  AnyClient(Family family, const ClientOptions& options);

  [[nodiscard]] Step start();
  [[nodiscard]] Step on_line(std::string_view line);    // line-based protocols
  [[nodiscard]] Step on_bytes(std::string_view bytes);  // binary protocols (LDAP, PostgreSQL)
  [[nodiscard]] Step on_tls_established();
  [[nodiscard]] const Facts& facts() const;

private:
  std::variant<smtp::Client, imap::Client, pop3::Client, sieve::Client, nntp::Client, ftp::Client, irc::Client,
               ldap::Client, postgres::Client, xmpp::Client>
      machine_;
};

}  // namespace ostls::proto
