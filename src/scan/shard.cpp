#include "scan/shard.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace ostls::scan {
namespace {

bool parse_number(std::string_view text, std::uint32_t& value) {
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return !text.empty() && ec == std::errc{} && ptr == end;
}

}  // namespace

Result<Shard> parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  Shard s;
  if (slash == std::string_view::npos || !parse_number(text.substr(0, slash), s.index) ||
      !parse_number(text.substr(slash + 1), s.count) || s.count == 0 || s.index == 0 || s.index > s.count) {
    return fail(Errc::Usage, Fault::Config,
                fmt::format("invalid shard \"{}\": write I/N with 1 <= I <= N, e.g. 2/4", text));
  }
  return s;
}

std::string normalized(const probe::Target& t) {
  std::string host = t.host;
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (host.size() > 1 && host.back() == '.') host.pop_back();
  return t.bracketed ? fmt::format("{}://[{}]:{}", t.protocol.canonical, host, t.port)
                     : fmt::format("{}://{}:{}", t.protocol.canonical, host, t.port);
}

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

bool in_shard(const probe::Target& t, const Shard& shard) {
  return fnv1a(normalized(t)) % shard.count == shard.index - 1;
}

}  // namespace ostls::scan
