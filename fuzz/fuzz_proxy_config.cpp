// Fuzzes the operator-supplied `ostls proxy` configuration: proxy::parse() (TOML through
// toml++, then every key's validation). Properties beyond "no crash": errors are Usage/Config
// faults that name the file; a configuration that parses has listeners with distinct names,
// a port on every endpoint, and exactly one destination per client-mode listener.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "proxy/config.hpp"

namespace {

void require(bool property) {
  if (!property) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto c = ostls::proxy::parse(text, "fuzz.toml");
  if (!c) {
    require(c.error().code == ostls::Errc::Usage && c.error().fault == ostls::Fault::Config);
    require(c.error().detail.starts_with("fuzz.toml:"));
    return 0;
  }
  std::set<std::string> names;
  require(!c->listeners.empty());
  for (const auto& l : c->listeners) {
    require(names.insert(l.name).second);
    require(l.listen.port != 0);
    if (l.mode == ostls::proxy::Mode::Client) {
      require(l.connect.has_value() != l.destination.has_value());
    } else {
      require(l.backend && l.backend->port != 0 && !l.cert.empty() && !l.key.empty());
    }
  }
  return 0;
}
