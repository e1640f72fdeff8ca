// The shared shape of every STARTTLS dialogue (STYLE "The shape of one protocol file").
// A protocol machine is sans-IO: it is fed CRLF-stripped lines (or, for binary protocols such as
// LDAP and PostgreSQL, bytes) and answers with the next Step;
// a driver (net/drive.hpp) performs the Step. Machines never touch sockets, OpenSSL or clocks,
// so probe, scan and proxy share them and unit tests drive them with plain strings.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "core/outcome.hpp"

namespace ostls::proto {

struct Send {      // write these bytes, then read the next line (or up to then_read_bytes bytes)
  std::string bytes;
  std::size_t then_read_bytes = 0;  // binary protocols: > 0
};
struct ReadLine {};  // read the next line
struct ReadBytes {   // binary protocols: read at least one and at most `max` bytes, then on_bytes()
  std::size_t max = 1;
};
struct StartTls {};  // run the TLS handshake now, then call on_tls_established()
struct Close {     // write these bytes (may be empty) and end the dialogue
  std::string bytes;
};
struct Fail {      // the dialogue cannot continue
  Error error;
};

using Step = std::variant<Send, ReadLine, ReadBytes, StartTls, Close, Fail>;

// What a client dialogue saw, the same for every protocol; the probe turns it into signals,
// capabilities and events without knowing the protocol.
struct Facts {
  std::optional<bool> starttls_offered;    // nullopt: the protocol advertises nothing (or implicit TLS)
  std::vector<std::string> caps_plain;     // capabilities before TLS, as the protocol lists them
  std::vector<std::string> caps_tls;       // capabilities read again after TLS (R10: never reused)
  bool starttls_sent = false;
  std::optional<std::string> refusal;      // the peer's answer when it refused the upgrade
  bool starttls_accepted = false;
  bool tls_established = false;
  bool offered_after_tls = false;          // the upgrade still advertised after TLS
  bool requiretls = false;                 // SMTP: REQUIRETLS (RFC 8689) after TLS
  std::optional<bool> starttls_required;   // XMPP: <required/> inside <starttls/>
  std::vector<Event> events;               // protocol-specific indicators (masked keyword, PREAUTH…)
};

// How a client machine treats the upgrade.
enum class Upgrade : std::uint8_t {
  Never,      // never send the upgrade command (level `none`, or the R2 cleartext retry)
  IfOffered,  // send it when the peer advertises it
  Always,     // send it even when not advertised (--try-starttls)
};

// What every client machine does once it has read a capability list: record it (before or after
// TLS, never mixing the two — R10) and decide whether to send the upgrade command. `offered` is
// nullopt where the protocol advertises nothing (then only Upgrade::Always sends it).
// Returns the Step and whether the machine is now waiting for the upgrade reply.
struct Capabilities {
  std::vector<std::string> list;
  std::optional<bool> offered;
};
struct AfterCapabilities {
  Step step;
  bool upgrading = false;
};
[[nodiscard]] AfterCapabilities after_capabilities(Facts& facts, Capabilities caps, Upgrade mode,
                                                   std::string upgrade_command, std::string close_bytes);

}  // namespace ostls::proto
