// Postfix `protocols=` syntax (smtp_tls_protocols) → a contiguous range of TLS versions.
// Accepts exclusions ("!SSLv2, !SSLv3, !TLSv1"), inclusions ("TLSv1.2 TLSv1.3") and bounds
// (">=TLSv1.2", "<=TLSv1.2"), separated by white space, commas or colons. SSLv2/SSLv3 are
// accepted and ignored: they are never offered. Pure.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/error.hpp"

namespace ostls::policy {

enum class TlsVersion : std::uint8_t { Tls1_0, Tls1_1, Tls1_2, Tls1_3 };

std::string_view name(TlsVersion v);  // OpenSSL's names: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3

struct TlsRange {
  TlsVersion min = TlsVersion::Tls1_0;
  TlsVersion max = TlsVersion::Tls1_3;

  friend bool operator==(const TlsRange&, const TlsRange&) = default;
};

[[nodiscard]] Result<TlsRange> parse_protocols(std::string_view text);

}  // namespace ostls::policy
