#include "policy/tls_versions.hpp"

#include <array>
#include <bitset>
#include <optional>

#include <fmt/format.h>

#include "core/names.hpp"

namespace ostls::policy {
namespace {

constexpr std::array<Named<TlsVersion>, 4> version_table{{
    {TlsVersion::Tls1_0, "TLSv1"},
    {TlsVersion::Tls1_1, "TLSv1.1"},
    {TlsVersion::Tls1_2, "TLSv1.2"},
    {TlsVersion::Tls1_3, "TLSv1.3"},
}};
static_assert(covers(version_table, 4));

bool is_separator(char c) { return c == ' ' || c == ',' || c == ':' || c == '\t'; }

}  // namespace

std::string_view name(TlsVersion v) { return name_in(version_table, v); }

Result<TlsRange> parse_protocols(std::string_view text) {
  std::bitset<4> include, exclude;
  std::optional<std::size_t> lo, hi;
  bool any_include = false;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_separator(text[i])) ++i;
    const auto start = i;
    while (i < text.size() && !is_separator(text[i])) ++i;
    auto token = text.substr(start, i - start);
    if (token.empty()) continue;
    enum { Include, Exclude, AtLeast, AtMost } op = Include;
    if (token.starts_with(">=")) { op = AtLeast; token.remove_prefix(2); }
    else if (token.starts_with("<=")) { op = AtMost; token.remove_prefix(2); }
    else if (token.starts_with("!")) { op = Exclude; token.remove_prefix(1); }
    if (token == "SSLv2" || token == "SSLv3") {
      if (op == Include) return fail(Errc::Usage, Fault::Config, fmt::format("protocol {} is not supported", token));
      continue;
    }
    const auto v = parse_in(version_table, token);
    if (!v) return fail(Errc::Usage, Fault::Config, fmt::format("unknown TLS protocol \"{}\"", token));
    const auto idx = static_cast<std::size_t>(*v);
    switch (op) {
      case Include: include.set(idx); any_include = true; break;
      case Exclude: exclude.set(idx); break;
      case AtLeast: lo = idx; break;
      case AtMost: hi = idx; break;
    }
  }
  std::bitset<4> allowed = any_include ? include : std::bitset<4>{}.set();
  allowed &= ~exclude;
  for (std::size_t v = 0; v < 4; ++v) {
    if ((lo && v < *lo) || (hi && v > *hi)) allowed.reset(v);
  }
  if (allowed.none()) return fail(Errc::Usage, Fault::Config, fmt::format("protocols \"{}\" leave no TLS version", text));
  TlsRange r;
  std::size_t first = 4, last = 0;
  for (std::size_t v = 0; v < 4; ++v) {
    if (allowed.test(v)) { first = std::min(first, v); last = v; }
  }
  // OpenSSL negotiates a contiguous range: a hole would silently re-admit the excluded version.
  for (std::size_t v = first; v <= last; ++v) {
    if (!allowed.test(v)) {
      return fail(Errc::Usage, Fault::Config, fmt::format("protocols \"{}\" leave a gap between TLS versions", text));
    }
  }
  r.min = static_cast<TlsVersion>(first);
  r.max = static_cast<TlsVersion>(last);
  return r;
}

}  // namespace ostls::policy
