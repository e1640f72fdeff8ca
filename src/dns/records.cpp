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

Result<std::string> parse_txt(std::string_view rdata) {
  if (rdata.empty()) return fail(Errc::Malformed, Fault::Dns, "empty TXT RDATA");
  std::string out;
  std::size_t pos = 0;
  while (pos < rdata.size()) {
    const auto len = static_cast<unsigned char>(rdata[pos]);
    if (pos + 1 + len > rdata.size()) {
      return fail(Errc::Malformed, Fault::Dns,
                  fmt::format("TXT RDATA: a {}-byte string overruns the {}-byte RDATA", len, rdata.size()));
    }
    out.append(rdata.substr(pos + 1, len));
    pos += 1 + len;
  }
  return out;
}

Result<Srv> parse_srv(std::string_view rdata) {
  // RFC 2782: priority, weight, port (16 bits each, network order), then the target name,
  // which is never compressed.
  if (rdata.size() < 7) return fail(Errc::Malformed, Fault::Dns, "SRV RDATA too short");
  auto u16 = [&](std::size_t at) {
    return static_cast<std::uint16_t>((static_cast<unsigned char>(rdata[at]) << 8) |
                                      static_cast<unsigned char>(rdata[at + 1]));
  };
  Srv srv{.priority = u16(0), .weight = u16(2), .port = u16(4), .target = {}};
  std::size_t pos = 6;
  if (!read_name(rdata, pos, srv.target) || pos != rdata.size()) {
    return fail(Errc::Malformed, Fault::Dns, "malformed SRV target name");
  }
  return srv;
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

std::vector<Srv> order_srv(std::vector<Srv> records, const Pick& pick) {
  std::stable_sort(records.begin(), records.end(),
                   [](const Srv& a, const Srv& b) { return a.priority < b.priority; });
  std::vector<Srv> out;
  out.reserve(records.size());
  for (auto group = records.begin(); group != records.end();) {
    const auto end = std::find_if(group, records.end(), [&](const Srv& r) { return r.priority != group->priority; });
    // Weight 0 first, then the others, each in the resolver's order (RFC 2782).
    std::vector<Srv> left(group, end);
    std::stable_partition(left.begin(), left.end(), [](const Srv& r) { return r.weight == 0; });
    while (!left.empty()) {
      std::uint64_t sum = 0;
      for (const auto& r : left) sum += r.weight;
      const std::uint64_t chosen = pick(sum) % (sum + 1);
      // The first record whose running sum reaches the chosen number.
      std::uint64_t running = 0;
      auto it = left.begin();
      for (; it != left.end(); ++it) {
        running += it->weight;
        if (running >= chosen) break;
      }
      out.push_back(std::move(*it));
      left.erase(it);
    }
    group = end;
  }
  return out;
}

bool is_no_service(const std::vector<Srv>& records) {
  return records.size() == 1 && records.front().target.empty();
}

}  // namespace ostls::dns
