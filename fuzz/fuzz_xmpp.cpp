// The XMPP client's stream parsing (expat, bounded) on hostile byte streams, fed in chunks
// whose sizes come from the input: never a crash, a loop, or an upgrade without <proceed/>.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "protocols/xmpp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  ostls::Limits limits;
  limits.max_reply_bytes = 256u + 64u * data[0];
  limits.max_reply_lines = 1u + (data[1] & 0x1f);
  const auto upgrade = (data[1] & 0x20) ? ostls::proto::Upgrade::Always : ostls::proto::Upgrade::IfOffered;
  ostls::xmpp::Client client({.domain = "example.org", .upgrade = upgrade, .limits = limits});
  auto step = client.start();
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::size_t chunk = 1u + (data[0] % 13);
  int upgrades = 0;
  while (!in.empty()) {
    if (std::holds_alternative<ostls::proto::StartTls>(step)) {
      if (++upgrades > 1 || !client.facts().starttls_sent) __builtin_trap();
      step = client.on_tls_established();
      continue;
    }
    if (!std::holds_alternative<ostls::proto::ReadBytes>(step) && !std::holds_alternative<ostls::proto::Send>(step)) break;
    const auto piece = in.substr(0, chunk);
    in.remove_prefix(piece.size());
    step = client.on_bytes(piece);
  }
  return 0;
}
