#include "dns/answer.hpp"

#include <array>
#include <cctype>

#include "core/names.hpp"

namespace ostls::dns {
namespace {

constexpr std::array<Named<Rcode>, 6> rcode_table{{
    {Rcode::NoError, "noerror"},
    {Rcode::NxDomain, "nxdomain"},
    {Rcode::ServFail, "servfail"},
    {Rcode::Refused, "refused"},
    {Rcode::Other, "other"},
    {Rcode::Timeout, "timeout"},
}};
static_assert(covers(rcode_table, 6));

constexpr std::array<Named<Security>, 3> security_table{{
    {Security::Insecure, "insecure"},
    {Security::Secure, "secure"},
    {Security::Bogus, "bogus"},
}};
static_assert(covers(security_table, 3));

}  // namespace

std::string_view name(Rcode r) { return name_in(rcode_table, r); }
std::string_view name(Security s) { return name_in(security_table, s); }

std::string_view state(const Answer& a) {
  if (a.security == Security::Bogus) return "bogus";
  if (a.rcode != Rcode::NoError && a.rcode != Rcode::NxDomain) return "servfail";
  if (a.security == Security::Insecure) return "insecure";
  return a.has_data() ? "secure" : "none";
}

bool read_name(std::string_view wire, std::size_t& pos, std::string& out) {
  out.clear();
  std::size_t total = 0;
  for (;;) {
    if (pos >= wire.size()) return false;
    const auto len = static_cast<unsigned char>(wire[pos++]);
    if (len == 0) break;
    if (len > 63 || pos + len > wire.size()) return false;  // compression pointers are not expected
    total += len + 1u;
    if (total > 255) return false;
    if (!out.empty()) out += '.';
    out.append(wire.substr(pos, len));
    pos += len;
  }
  out = normalize_name(out);
  return true;
}

std::string normalize_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

}  // namespace ostls::dns
