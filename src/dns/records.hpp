// RDATA parsers for the records ostls acts on (pure; fuzzed by fuzz/fuzz_dns_records.cpp):
// TLSA (RFC 6698 §2.1), MX (RFC 1035 §3.3.9, RFC 7505 null MX), SRV (RFC 2782), A/AAAA, TXT.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace ostls::dns {

struct Tlsa {
  std::uint8_t usage = 0, selector = 0, mtype = 0;
  std::string data;  // raw bytes

  [[nodiscard]] std::string data_hex() const;
  [[nodiscard]] std::string to_string() const;  // "3 1 1 ab12…"
};

struct Mx {
  std::uint16_t preference = 0;
  std::string exchange;  // normalized; empty = "." (null MX, RFC 7505)
};

// RFC 2782: where a service of a domain is offered.
struct Srv {
  std::uint16_t priority = 0, weight = 0, port = 0;
  std::string target;  // normalized; empty = "." (the service is decidedly not offered)
};

[[nodiscard]] Result<Tlsa> parse_tlsa(std::string_view rdata);
[[nodiscard]] Result<Mx> parse_mx(std::string_view rdata);
[[nodiscard]] Result<Srv> parse_srv(std::string_view rdata);
// RFC 1035 §3.3.14: the character-strings of one TXT RDATA, concatenated without separators,
// as RFC 8460 §3 and RFC 8461 §3.1 read a record split into several strings.
[[nodiscard]] Result<std::string> parse_txt(std::string_view rdata);
// "192.0.2.1" or "2001:db8::1"
[[nodiscard]] Result<std::string> parse_address(std::string_view rdata, std::uint16_t qtype);

// RFC 5321 §5.1: ascending preference; equal preferences keep their order (the resolver's).
[[nodiscard]] std::vector<Mx> order_mx(std::vector<Mx> records);
// RFC 7505 §3: a single MX with exchange "." means the domain accepts no mail.
[[nodiscard]] bool is_null_mx(const std::vector<Mx>& records);

// A uniform random number in [0, bound]; injected so that the SRV order is testable.
using Pick = std::function<std::uint64_t(std::uint64_t bound)>;
// RFC 2782 "Usage rules": ascending priority; within one priority a weighted random order
// (weight-0 records first in the running sum, so they are chosen rarely but can be). A `pick`
// result above `bound` is reduced modulo bound + 1.
[[nodiscard]] std::vector<Srv> order_srv(std::vector<Srv> records, const Pick& pick);
// RFC 2782: a single SRV record whose target is "." means the service is not offered.
[[nodiscard]] bool is_no_service(const std::vector<Srv>& records);

}  // namespace ostls::dns
