// LDAP BER from the network: element_size, parse_extended_response, and the StartTLS client
// fed the input in chunks of the sizes it asks for (never more), as the driver does.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "protocols/ldap.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto n = ostls::ldap::element_size(in, 4096); n && *n && **n > 4096 + 6) __builtin_trap();
  (void)ostls::ldap::parse_extended_response(in);

  ostls::ldap::Client client({});
  auto step = client.start();
  std::size_t pos = 0;
  std::size_t want = std::get<ostls::proto::Send>(step).then_read_bytes;
  for (int rounds = 0; rounds < 64 && pos < in.size(); ++rounds) {
    const auto chunk = in.substr(pos, want);
    pos += chunk.size();
    step = client.on_bytes(chunk);
    if (auto* more = std::get_if<ostls::proto::ReadBytes>(&step)) {
      if (more->max == 0) __builtin_trap();  // a request for nothing would spin the driver
      want = more->max;
      continue;
    }
    break;
  }
  return 0;
}
