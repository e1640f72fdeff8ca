#include "dns/records.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include <fmt/format.h>

#include "dns/answer.hpp"

namespace ostls::dns {

std::string Tlsa::data_hex() const {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (char ch : data) {
    const auto c = static_cast<unsigned char>(ch);
    out += digits[c >> 4];
    out += digits[c & 0xf];
  }
  return out;
}

std::string Tlsa::to_string() const { return fmt::format("{} {} {} {}", usage, selector, mtype, data_hex()); }

Result<Tlsa> parse_tlsa(std::string_view rdata) {
  // RFC 6698 §2.1: usage, selector, matching type (one octet each), then association data.
  if (rdata.size() < 4) {
    return fail(Errc::Malformed, Fault::Dns, fmt::format("TLSA RDATA too short ({} bytes)", rdata.size()));
  }
  Tlsa t;
  t.usage = static_cast<std::uint8_t>(rdata[0]);
  t.selector = static_cast<std::uint8_t>(rdata[1]);
  t.mtype = static_cast<std::uint8_t>(rdata[2]);
  t.data = std::string(rdata.substr(3));
  return t;
}

Result<Mx> parse_mx(std::string_view rdata) {
  if (rdata.size() < 3) return fail(Errc::Malformed, Fault::Dns, "MX RDATA too short");
  Mx mx;
  mx.preference = static_cast<std::uint16_t>((static_cast<unsigned char>(rdata[0]) << 8) |
                                             static_cast<unsigned char>(rdata[1]));
  std::size_t pos = 2;
  if (!read_name(rdata, pos, mx.exchange) || pos != rdata.size()) {
    return fail(Errc::Malformed, Fault::Dns, "malformed MX exchange name");
  }
  return mx;
}

Result<std::string> parse_address(std::string_view rdata, std::uint16_t qtype) {
  char text[INET6_ADDRSTRLEN] = {};
  if (qtype == rrtype::a && rdata.size() == 4) {
    inet_ntop(AF_INET, rdata.data(), text, sizeof text);
    return std::string(text);
  }
  if (qtype == rrtype::aaaa && rdata.size() == 16) {
    inet_ntop(AF_INET6, rdata.data(), text, sizeof text);
    return std::string(text);
  }
  return fail(Errc::Malformed, Fault::Dns, fmt::format("address RDATA of {} bytes for type {}", rdata.size(), qtype));
}

std::vector<Mx> order_mx(std::vector<Mx> records) {
  std::stable_sort(records.begin(), records.end(),
                   [](const Mx& a, const Mx& b) { return a.preference < b.preference; });
  return records;
}

bool is_null_mx(const std::vector<Mx>& records) {
  return records.size() == 1 && records.front().exchange.empty();
}

}  // namespace ostls::dns
