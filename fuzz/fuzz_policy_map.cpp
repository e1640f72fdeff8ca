// Fuzzes the operator-supplied policy text: policy::PolicyMap::parse() (Postfix
// smtp_tls_policy_maps syntax), lookup() of a few hosts when it parses, and
// policy::parse_protocols() (the protocols= attribute grammar) on the whole input and on every
// protocols= value of the parsed map.
// Properties checked beyond "no crash": errors are Config faults; an entry found by lookup()
// prints itself and its key is one of lookup_keys(); a parsed range is ordered.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/policy_map.hpp"
#include "policy/tls_versions.hpp"

namespace {

void require(bool property) {
  if (!property) __builtin_trap();
}

struct Probe {
  std::string_view host;
  std::uint16_t port;
};

constexpr Probe probes[] = {
    {"mx.example.org", 25}, {"example.org", 25},   {"MX1.Sub.Example.ORG", 587},
    {"127.0.0.1", 25},      {"::1", 465},          {"localhost", 2525},
    {"a.b.c.d.e.f.g", 1},   {"", 0},               {".", 25},
};

void check_protocols(std::string_view text) {
  const auto r = ostls::policy::parse_protocols(text);
  if (!r) {
    require(r.error().fault == ostls::Fault::Config);
    return;
  }
  require(r->min <= r->max);
  (void)ostls::policy::name(r->min);
  (void)ostls::policy::name(r->max);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_protocols(text);

  const auto map = ostls::policy::PolicyMap::parse(text, "fuzz");
  if (!map) {
    require(map.error().fault == ostls::Fault::Config);
    return 0;
  }
  for (const auto& p : probes) {
    const auto* entry = map->lookup(p.host, p.port);
    if (entry == nullptr) continue;
    const auto keys = ostls::policy::lookup_keys(p.host, p.port);
    require(std::find(keys.begin(), keys.end(), entry->key) != keys.end());
    (void)entry->to_string();
    if (entry->protocols) check_protocols(*entry->protocols);
  }
  // The first field of the input, used as a host: finds its own entry if it has one.
  const auto first = text.substr(0, std::min(text.find_first_of(" \t\r\n"), text.size()));
  (void)map->lookup(first, 25);
  return 0;
}
