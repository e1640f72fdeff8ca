#include "protocols/text.hpp"

#include "protocols/protocol.hpp"

#include <algorithm>
#include <cctype>

namespace ostls::proto {

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

std::string excerpt(std::string_view bytes) {
  std::string out;
  for (char c : bytes.substr(0, 120)) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return bytes.size() > 120 ? out + "…" : out;
}

std::pair<std::string_view, std::string_view> word(std::string_view s) {
  const auto sp = s.find(' ');
  if (sp == std::string_view::npos) return {s, {}};
  return {s.substr(0, sp), s.substr(sp + 1)};
}

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const auto start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

bool lists_keyword(const std::vector<std::string>& caps, std::string_view keyword) {
  const auto want = upper(keyword);
  return std::any_of(caps.begin(), caps.end(), [&](const std::string& c) {
    const auto first = word(c).first;
    const auto eq = first.find('=');
    return upper(first.substr(0, eq)) == want;
  });
}

AfterCapabilities after_capabilities(Facts& facts, Capabilities caps, Upgrade mode, std::string upgrade_command,
                                     std::string close_bytes) {
  if (facts.tls_established) {
    facts.caps_tls = std::move(caps.list);
    facts.offered_after_tls = caps.offered.value_or(false);
    return {Close{std::move(close_bytes)}, false};
  }
  facts.caps_plain = std::move(caps.list);
  facts.starttls_offered = caps.offered;
  const bool go = mode == Upgrade::Always || (mode == Upgrade::IfOffered && caps.offered.value_or(false));
  if (!go) return {Close{std::move(close_bytes)}, false};
  facts.starttls_sent = true;
  return {Send{std::move(upgrade_command)}, true};
}

}  // namespace ostls::proto
