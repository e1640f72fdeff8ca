// Every line-based client machine but SMTP's (its own target), through proto::AnyClient, on
// hostile responses: never a crash, a loop or an upgrade the dialogue did not earn.
// First byte: family (low 3 bits), upgrade mode, implicit TLS; second byte: limits; the rest is
// split into lines.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "protocols/client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ostls::proto::Family;
  if (size < 2) return 0;
  static constexpr Family families[] = {Family::Imap, Family::Pop3, Family::Sieve, Family::Nntp,
                                        Family::Ftp,  Family::Irc,  Family::Imap,  Family::Pop3};
  const auto mode = data[0];
  ostls::Limits limits;
  limits.max_reply_lines = 1u + (data[1] & 0x3f);
  limits.max_reply_bytes = 64u + 32u * data[1];
  const auto family = families[mode & 7];
  const auto upgrade = (mode & 8) ? ostls::proto::Upgrade::Always
                       : (mode & 16) ? ostls::proto::Upgrade::Never
                                     : ostls::proto::Upgrade::IfOffered;
  const bool implicit = (mode & 32) != 0 && family != Family::Sieve;
  ostls::proto::AnyClient client(family, {.implicit_tls = implicit, .upgrade = upgrade, .limits = limits});
  auto step = client.start();
  if (implicit) step = client.on_tls_established();
  int upgrades = 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
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
