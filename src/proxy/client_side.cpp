#include "proxy/client_side.hpp"

#include <fmt/format.h>

namespace ostls::proxy {
namespace {

constexpr std::size_t max_reason = 400;

std::string one_line(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, max_reason)) {
    const auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? ' ' : c;
  }
  return out;
}

// "* OK [CAPABILITY IMAP4rev1 STARTTLS …] Dovecot ready." → "* OK Dovecot ready."
std::string without_capability_code(std::string_view line) {
  const auto open = line.find("[CAPABILITY ");
  if (!line.starts_with("* ") || open == std::string_view::npos) return std::string(line);
  const auto close = line.find(']', open);
  if (close == std::string_view::npos) return std::string(line);
  auto rest = line.substr(close + 1);
  if (rest.starts_with(" ")) rest.remove_prefix(1);
  return std::string(line.substr(0, open)) + std::string(rest);
}

}  // namespace

std::string greeting_for_application(proto::Family family, std::string_view greeting) {
  if (family != proto::Family::Imap) return std::string(greeting);
  std::string out;
  std::size_t at = 0;
  while (at < greeting.size()) {
    auto end = greeting.find("\r\n", at);
    if (end == std::string_view::npos) end = greeting.size();
    out += without_capability_code(greeting.substr(at, end - at));
    out += "\r\n";
    at = end + 2;
  }
  return out;
}

std::string refusal(proto::Family family, const Outcome& o) {
  const auto why = o.failure ? o.failure->detail : std::string("the policy was not met");
  return unavailable(family, fmt::format("ostls: TLS policy \"{}\" not met ({}): {}", name(o.policy.effective),
                                         name(o.verdict), why), "4.7.0");
}

std::string unavailable(proto::Family family, std::string_view text, std::string_view smtp_status) {
  const auto reason = one_line(text);
  if (family == proto::Family::Imap) return fmt::format("* BYE [UNAVAILABLE] {}\r\n", reason);
  if (family == proto::Family::Pop3) return fmt::format("-ERR [SYS/TEMP] {}\r\n", reason);
  return fmt::format("421 {} {}\r\n", smtp_status, reason);  // SMTP, LMTP
}

}  // namespace ostls::proxy
