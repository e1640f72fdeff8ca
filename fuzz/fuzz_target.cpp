// Fuzzes command-line targets: probe::parse_target() (PROTO://host[:port], PROTO://[host][:port]).
// Properties checked beyond "no crash": errors are Config faults; a parsed target has a port,
// the input as its text, a non-empty host without brackets, slashes or spaces, and a ':' in the
// host (IPv6 literal) only when it was written inside brackets.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "probe/target.hpp"

namespace {

void require(bool property) {
  if (!property) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto t = ostls::probe::parse_target(text);
  if (!t) {
    require(t.error().fault == ostls::Fault::Config);
    return 0;
  }
  require(t->port != 0);
  require(t->text == text);
  require(!t->host.empty() && t->host.find_first_of("[]/ ") == std::string::npos);
  if (t->host.find(':') != std::string_view::npos) require(t->bracketed);
  return 0;
}
