// The IMAP and POP3 client machines (through proto::AnyClient) on hostile responses: never a
// crash, a loop or an upgrade the dialogue did not earn. First byte: family, upgrade mode,
// implicit TLS and small limits; the rest is split into lines.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "protocols/client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto mode = data[0];
  ostls::Limits limits;
  limits.max_reply_lines = 1u + (mode >> 4);
  limits.max_reply_bytes = 64u + 32u * (mode >> 4);
  const auto family = (mode & 1) ? ostls::proto::Family::Pop3 : ostls::proto::Family::Imap;
  const auto upgrade = (mode & 2) ? ostls::proto::Upgrade::Always
                       : (mode & 4) ? ostls::proto::Upgrade::Never
                                    : ostls::proto::Upgrade::IfOffered;
  ostls::proto::AnyClient client(family, {.implicit_tls = (mode & 8) != 0, .upgrade = upgrade, .limits = limits});
  auto step = client.start();
  if (mode & 8) step = client.on_tls_established();
  int upgrades = 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (!in.empty()) {
    const auto nl = in.find('\n');
    const auto line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    if (std::holds_alternative<ostls::proto::Close>(step) || std::holds_alternative<ostls::proto::Fail>(step)) break;
    if (std::holds_alternative<ostls::proto::StartTls>(step)) {
      // Properties: at most one upgrade, never when the policy said never, only once asked for.
      if (++upgrades > 1 || upgrade == ostls::proto::Upgrade::Never || !client.facts().starttls_sent) __builtin_trap();
      step = client.on_tls_established();
      continue;
    }
    step = client.on_line(line);
  }
  return 0;
}
