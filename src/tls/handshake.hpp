// What a completed handshake negotiated and what the peer presented, as plain values
// (core/outcome.hpp TlsFacts): version, cipher, bits, key-exchange group, forward secrecy,
// signature, the leaf certificate's facts and digests, and the PKIX chain and name checks —
// always performed, whether or not the policy enforces them (R3).
#pragma once

#include <span>
#include <string>

#include <openssl/ssl.h>

#include "core/outcome.hpp"

namespace ostls::tls {

// Precondition: the handshake on `ssl` completed. `reference_ids` are host names (a leading
// "." matches any subdomain, as in Postfix's dot-nexthop) or IP literals; empty = name not checked.
// With `dane_enabled` (tls/dane.hpp), the verification result is DANE's and TlsFacts::dane says
// which record matched.
[[nodiscard]] TlsFacts handshake_facts(SSL* ssl, std::span<const std::string> reference_ids, bool dane_enabled = false);

// Which TLSA record OpenSSL's DANE verification matched on `ssl` (SSL_get0_dane_tlsa), and
// whether the verification succeeded. Only meaningful after a full handshake with DANE enabled.
[[nodiscard]] DaneFacts dane_facts(SSL* ssl);

// Lowercase hex SHA-256 of the DER certificate / of its DER SubjectPublicKeyInfo.
[[nodiscard]] std::string cert_sha256(X509* cert);
[[nodiscard]] std::string spki_sha256(X509* cert);

}  // namespace ostls::tls
