// `ostls proxy` client mode, what the application is told (pure): the upstream peer's greeting
// as the application should see it once the proxy has negotiated TLS upstream, and the
// protocol-correct refusal when the policy was not met. Client mode serves SMTP/LMTP, IMAP and
// POP3 (proxy/config.cpp refuses the others).
#pragma once

#include <string>
#include <string_view>

#include "core/outcome.hpp"
#include "protocols/registry.hpp"

namespace ostls::proxy {

// The greeting lines as received (CRLF-terminated). IMAP: a [CAPABILITY …] response code is
// removed from the greeting (it listed the pre-TLS capabilities, STARTTLS among them; the
// application asks for them again and gets the post-TLS ones). Other protocols: unchanged.
[[nodiscard]] std::string greeting_for_application(proto::Family family, std::string_view greeting);

// The policy was not met (or the peer could not be reached): a temporary refusal in the
// protocol's own words with the reason, e.g. "421 4.7.0 ostls: TLS policy not met: …" (SMTP,
// LMTP), "* BYE [UNAVAILABLE] ostls: …" (IMAP), "-ERR [SYS/TEMP] ostls: …" (POP3). The reason
// is one line: CR, LF and other control characters are replaced, and it is cut at 400 bytes.
[[nodiscard]] std::string refusal(proto::Family family, const Outcome& outcome);

// The same temporary refusal for a session that never got to the policy (transparent mode
// without an original destination): `text` as the reason, `smtp_status` the enhanced status code.
[[nodiscard]] std::string unavailable(proto::Family family, std::string_view text, std::string_view smtp_status);

}  // namespace ostls::proxy
