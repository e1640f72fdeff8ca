// The shared shape of every STARTTLS dialogue (STYLE "The shape of one protocol file").
// A protocol machine is sans-IO: it is fed CRLF-stripped lines and answers with the next Step;
// a driver (net/drive.hpp) performs the Step. Machines never touch sockets, OpenSSL or clocks,
// so probe, scan and proxy share them and unit tests drive them with plain strings.
#pragma once

#include <string>
#include <variant>

#include "core/error.hpp"

namespace ostls::proto {

struct Send {      // write these bytes, then read the next line
  std::string bytes;
};
struct ReadLine {};  // read the next line
struct StartTls {};  // run the TLS handshake now, then call on_tls_established()
struct Close {     // write these bytes (may be empty) and end the dialogue
  std::string bytes;
};
struct Fail {      // the dialogue cannot continue
  Error error;
};

using Step = std::variant<Send, ReadLine, StartTls, Close, Fail>;

// How a client machine treats the upgrade.
enum class Upgrade : std::uint8_t {
  Never,      // never send the upgrade command (level `none`, or the R2 cleartext retry)
  IfOffered,  // send it when the peer advertises it
  Always,     // send it even when not advertised (--try-starttls)
};

}  // namespace ostls::proto
