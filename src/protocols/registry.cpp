#include "protocols/registry.hpp"

#include <array>

namespace ostls::proto {
namespace {

// clang-format off
constexpr std::array<ProtocolInfo, 23> table{{
  // scheme        canonical     family          port implicit
  {"smtp",       "smtp",       Family::Smtp,   25,  false},  // RFC 3207
  {"submission", "submission", Family::Smtp,   587, false},  // RFC 6409 + RFC 3207
  {"lmtp",       "lmtp",       Family::Lmtp,   24,  false},  // RFC 2033
  {"smtps",      "smtps",      Family::Smtp,   465, true},   // RFC 8314 implicit TLS
  {"imap",       "imap",       Family::Imap,   143, false},  // RFC 9051 §6.2.1, RFC 2595
  {"imaps",      "imaps",      Family::Imap,   993, true},   // RFC 8314
  {"pop3",       "pop3",       Family::Pop3,   110, false},  // RFC 2595 §4
  {"pop3s",      "pop3s",      Family::Pop3,   995, true},   // RFC 8314
  {"sieve",      "sieve",      Family::Sieve,  4190, false}, // RFC 5804 §2.2
  {"managesieve", "sieve",     Family::Sieve,  4190, false}, // alias
  {"nntp",       "nntp",       Family::Nntp,   119, false},  // RFC 4642
  {"nntps",      "nntps",      Family::Nntp,   563, true},   // RFC 4642 §1 (implicit)
  {"ftp",        "ftp",        Family::Ftp,    21,  false},  // RFC 4217 AUTH TLS
  {"ftps",       "ftps",       Family::Ftp,    990, true},   // implicit FTPS
  {"irc",        "irc",        Family::Irc,    6667, false}, // IRCv3 STARTTLS (670/691)
  {"ircs",       "ircs",       Family::Irc,    6697, true},  // RFC 7194
  {"ldap",       "ldap",       Family::Ldap,   389, false},  // RFC 4511 §4.14, RFC 4513 §3
  {"ldaps",      "ldaps",      Family::Ldap,   636, true},   // implicit TLS
  {"postgres",   "postgres",   Family::Postgres, 5432, false}, // SSLRequest
  {"postgresql", "postgres",   Family::Postgres, 5432, false}, // alias
  {"xmpp",       "xmpp",       Family::Xmpp,   5222, false}, // RFC 6120 §5 c2s
  {"xmpp-server", "xmpp-server", Family::XmppServer, 5269, false}, // RFC 6120 §5 s2s
  {"xmpps",      "xmpps",      Family::Xmpp,   5223, true},  // XEP-0368 direct TLS
}};
// clang-format on

}  // namespace

std::optional<ProtocolInfo> find_protocol(std::string_view scheme) {
  for (const auto& p : table) {
    if (p.scheme == scheme) return p;
  }
  return std::nullopt;
}

std::span<const ProtocolInfo> protocols() { return table; }

}  // namespace ostls::proto
