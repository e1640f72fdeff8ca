// The human renderings of an Outcome, composed in one place (Postfix tls_log_summary()):
// the one-line summary, compatible with Postfix's "… TLS connection established to …" lines,
// and the short reason block `ostls probe` prints under it. docs/log-format.md lists the words;
// golden tests pin them.
#pragma once

#include <string>

#include "core/outcome.hpp"

namespace ostls::report {

// "Untrusted TLS connection established to mx1.example.org[192.0.2.1]:25: TLSv1.3 with cipher
// TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (P-256)
// server-digest SHA256", or for cleartext "Cleartext SMTP connection to …: <why>", or
// "No SMTP connection to …: <error>".
[[nodiscard]] std::string log_line(const Outcome& o);

// Indented "key: value" lines: verdict, policy, protection, verification, events.
[[nodiscard]] std::string reason_block(const Outcome& o);

}  // namespace ostls::report
