// The HAProxy PROXY protocol, version 2 (binary), as `ostls proxy` server mode sends it to a
// backend (`proxy_protocol = true`): the client's address and port, the listener's, and — when
// TLS with the client was established before the backend was connected (implicit TLS) — a
// PP2_TYPE_SSL TLV with the version and cipher. Postfix (smtpd_upstream_proxy_protocol = haproxy)
// and Dovecot (haproxy_trusted_networks) read it. Pure; the decoder is for tests and fuzzing
// (fuzz/fuzz_proxy_protocol.cpp) and names what is wrong with a header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace ostls::proxy {

struct ProxyHeader {
  bool local = false;  // command LOCAL (health checks): no addresses
  std::string source, destination;  // IP literals of one family
  std::uint16_t source_port = 0, destination_port = 0;
  struct Tls {
    std::string version, cipher;  // PP2_SUBTYPE_SSL_VERSION, PP2_SUBTYPE_SSL_CIPHER
  };
  std::optional<Tls> tls;  // PP2_TYPE_SSL with PP2_CLIENT_SSL set
};

// Errc::Usage when the addresses are not IP literals of the same family.
[[nodiscard]] Result<std::string> encode_v2(const ProxyHeader& header);

// One header at the start of `bytes`; `consumed` is its length. Errc::Malformed (Fault::Peer)
// for anything that is not a well-formed v2 header; Errc::Closed when more bytes are needed.
[[nodiscard]] Result<ProxyHeader> decode_v2(std::string_view bytes, std::size_t& consumed);

}  // namespace ostls::proxy
