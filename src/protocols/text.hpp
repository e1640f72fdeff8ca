// Small text helpers shared by the protocol machines (pure, ASCII only).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ostls::proto {

[[nodiscard]] std::string upper(std::string_view s);
// At most 80 characters, non-printable bytes as '?': safe to put in an error or event.
[[nodiscard]] std::string printable(std::string_view s);
// At most 120 bytes of raw peer data with CR and LF shown as \r and \n, for injection events.
[[nodiscard]] std::string excerpt(std::string_view bytes);
// "FIRST rest of it" → {"FIRST", "rest of it"}; no space → {s, ""}.
[[nodiscard]] std::pair<std::string_view, std::string_view> word(std::string_view s);
// Space-separated words ("IMAP4rev1  STARTTLS" → {"IMAP4rev1", "STARTTLS"}), empty ones dropped.
[[nodiscard]] std::vector<std::string> words(std::string_view text);
// Whether a capability list has an entry whose first word is `keyword` (case-insensitive).
[[nodiscard]] bool lists_keyword(const std::vector<std::string>& caps, std::string_view keyword);

}  // namespace ostls::proto
