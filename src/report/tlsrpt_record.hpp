// Where a domain wants its TLS-RPT reports (RFC 8460 §3), pure: the `_smtp._tls.<domain>` TXT
// RRset → the one record that begins with v=TLSRPTv1 → its rua= URIs. Strict to the §3 ABNF:
// `v=TLSRPTv1` first, fields separated by *WSP ";" *WSP (one trailing separator allowed), `rua=`
// required with one or more comma-separated mailto: or https: URIs (",", "!" and ";" only
// percent-encoded), other fields are extensions (name and value grammar checked, then ignored).
// Field names are case-sensitive (RFC 7405 %s); URI schemes are not (RFC 3986 §3.1).
// Fuzzed by fuzz/fuzz_tlsrpt_txt.cpp. Does not: look anything up (apps/cli/report_cmd.cpp does,
// through the validating resolver), or check that a mailto: address can receive mail.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "dns/answer.hpp"

namespace ostls::report {

namespace limits {
inline constexpr std::size_t max_tlsrpt_record = 4096;  // bytes of one record's text
}

struct TlsrptPolicy {
  std::vector<std::string> rua;                                  // in order, as written
  std::vector<std::pair<std::string, std::string>> extensions;  // fields other than rua (ignored)
};

// RFC 8460 §3: records not beginning with "v=TLSRPTv1" (then *WSP ";" or the end) are discarded;
// exactly one must remain, else the domain has no TLS-RPT policy (an error naming the count).
[[nodiscard]] Result<std::string> select_record(const std::vector<std::string>& texts);

// Parses one record. Errors are Errc::Malformed, Fault::Peer, with the offending offset.
[[nodiscard]] Result<TlsrptPolicy> parse_record(std::string_view text);

// What the `_smtp._tls.<domain>` TXT answer says (`ostls report tlsrpt --check`, and
// signals.tlsrpt of every smtp:// mail-domain probe).
struct TlsrptLookup {
  std::string state;                  // present | none | invalid | bogus | servfail
  std::optional<std::string> record;  // the selected v=TLSRPTv1 record
  std::optional<TlsrptPolicy> policy; // state present
  std::optional<std::string> error;   // why not present
};
[[nodiscard]] TlsrptLookup read_tlsrpt(const dns::Answer& answer, std::string_view domain);

}  // namespace ostls::report
