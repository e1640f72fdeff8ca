// DNS answers as ostls sees them: the rcode, the DNSSEC security state and the RRset, kept
// apart (STYLE habit 3: found / not found / lookup failed, and secure / insecure / bogus are
// never collapsed). Pure: no libunbound here (dns/resolver.cpp maps ub_result once).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ostls::dns {

enum class Rcode : std::uint8_t { NoError, NxDomain, ServFail, Refused, Other, Timeout };
enum class Security : std::uint8_t { Insecure, Secure, Bogus };

namespace rrtype {
inline constexpr std::uint16_t a = 1, cname = 5, mx = 15, txt = 16, aaaa = 28, srv = 33, tlsa = 52;
}

struct Answer {
  std::string qname;
  std::uint16_t qtype = 0;
  Rcode rcode = Rcode::Other;
  Security security = Security::Insecure;
  std::vector<std::string> rdata;  // wire-format RDATA, one string per record
  std::string canonical;           // the owner name after CNAMEs (RFC 7672 §2.2.2)
  std::string why_bogus;
  std::uint32_t ttl = 0;

  // The answer can be acted on (no lookup failure): NOERROR (with or without data) or NXDOMAIN,
  // and not bogus.
  [[nodiscard]] bool usable() const {
    return security != Security::Bogus && (rcode == Rcode::NoError || rcode == Rcode::NxDomain);
  }
  [[nodiscard]] bool has_data() const { return rcode == Rcode::NoError && !rdata.empty(); }
  [[nodiscard]] bool secure() const { return security == Security::Secure; }
};

// "secure" | "insecure" (signed or not, with data) | "none" (authenticated denial: no such
// records, securely) | "bogus" | "servfail" (any lookup failure, timeout included).
[[nodiscard]] std::string_view state(const Answer& a);
std::string_view name(Rcode r);
std::string_view name(Security s);

// Wire-format names (RFC 1035 §3.1, uncompressed as libunbound returns them) → "a.b.c".
// Returns false on malformed input. `pos` advances past the name.
[[nodiscard]] bool read_name(std::string_view wire, std::size_t& pos, std::string& out);

// Host names compare case-insensitively, without a trailing dot.
[[nodiscard]] std::string normalize_name(std::string_view name);

}  // namespace ostls::dns
