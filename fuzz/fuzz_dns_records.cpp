// DNS RDATA from the network (TLSA, MX, SRV, A/AAAA) and what DANE policy makes of a TLSA
// RRset: parse_tlsa, parse_mx, parse_srv + order_srv, parse_address, dane::classify. First input
// byte picks the record type (MX and SRV share a value: every item goes through both parsers);
// the rest is split at 0xff bytes into RDATA items of one RRset.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dane/dane.hpp"
#include "dns/answer.hpp"
#include "dns/records.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string> rdata;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= in.size(); ++i) {
    if (i == in.size() || static_cast<unsigned char>(in[i]) == 0xff) {
      rdata.emplace_back(in.substr(start, i - start));
      start = i + 1;
    }
  }
  switch (data[0] % 4) {
    case 0: {
      ostls::dns::Answer a;
      a.qname = "_25._tcp.mx.example.org";
      a.rcode = ostls::dns::Rcode::NoError;
      a.security = (data[0] & 4) ? ostls::dns::Security::Secure : ostls::dns::Security::Insecure;
      a.rdata = rdata;
      const auto set = ostls::dane::classify(a, (data[0] & 8) != 0);
      for (const auto& r : set.usable) {
        if (!ostls::dane::usable(r, (data[0] & 8) != 0)) __builtin_trap();
        (void)r.to_string();
      }
      (void)ostls::dane::apply(ostls::Level::Opportunistic, ostls::PolicySource::Default, set);
      break;
    }
    case 1: {
      std::vector<ostls::dns::Mx> mx;
      for (const auto& rd : rdata) {
        if (auto r = ostls::dns::parse_mx(rd)) {
          if (r->exchange.size() > 253) __builtin_trap();
          mx.push_back(*r);
        }
      }
      (void)ostls::dns::is_null_mx(ostls::dns::order_mx(mx));
      std::vector<ostls::dns::Srv> srv;
      for (const auto& rd : rdata) {
        if (auto r = ostls::dns::parse_srv(rd)) {
          if (r->target.size() > 253) __builtin_trap();
          srv.push_back(*r);
        }
      }
      // The "random" numbers come from the input too, so orders are reproducible.
      std::size_t next = 0;
      const auto ordered = ostls::dns::order_srv(srv, [&](std::uint64_t) -> std::uint64_t {
        return next < in.size() ? static_cast<unsigned char>(in[next++]) * 257u : ~0ull;
      });
      // RFC 2782 order: every record kept, priorities never decrease.
      if (ordered.size() != srv.size()) __builtin_trap();
      for (std::size_t i = 1; i < ordered.size(); ++i) {
        if (ordered[i - 1].priority > ordered[i].priority) __builtin_trap();
      }
      (void)ostls::dns::is_no_service(ordered);
      break;
    }
    case 2:
      for (const auto& rd : rdata) (void)ostls::dns::parse_address(rd, ostls::dns::rrtype::a);
      break;
    default:
      for (const auto& rd : rdata) (void)ostls::dns::parse_address(rd, ostls::dns::rrtype::aaaa);
      break;
  }
  return 0;
}
