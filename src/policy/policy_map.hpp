// Explicit policy (R1): a table in Postfix smtp_tls_policy_maps syntax that overrides the
// default level for the peers it names.
//   # comment
//   [mx.example.org]:25   verify  match=mx.example.org:.example.org  protocols=>=TLSv1.2
//   example.org           encrypt ciphers=high
//   .example.org          fingerprint match=3b:…:9f|a1…07
//   [mx.example.net]      may sticky      (R11: fail on a suspected downgrade)
// Keys: [host]:port, [host], domain, .domain (any subdomain). Lookup is most specific first
// (lookup_keys()). A line starting with white space continues the previous one, as in Postfix.
// Pure: parse() takes text; reading the file is load()'s only job.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "core/level.hpp"

namespace ostls::policy {

namespace limits {
inline constexpr std::size_t max_file_bytes = 16 * 1024 * 1024;
inline constexpr std::size_t max_logical_line = 64 * 1024;
}  // namespace limits

struct PolicyEntry {
  std::string key;
  Level level = Level::May;
  std::vector<std::string> match;          // fingerprint digests, or names for verify/secure
  std::optional<std::string> protocols;    // Postfix protocol list, e.g. ">=TLSv1.2"
  std::optional<std::string> ciphers;      // Postfix cipher grade: high, medium, low, export, null
  std::optional<std::string> servername;   // SNI and reference identifier override
  bool sticky = false;                     // R11: a suspected downgrade is a failure
  int line = 0;

  [[nodiscard]] std::string to_string() const;
};

class PolicyMap {
public:
  [[nodiscard]] static Result<PolicyMap> parse(std::string_view text, std::string_view origin);
  [[nodiscard]] static Result<PolicyMap> load(const std::filesystem::path& file);

  // The most specific entry for this host and port, or nullptr.
  [[nodiscard]] const PolicyEntry* lookup(std::string_view host, std::uint16_t port) const;
  [[nodiscard]] std::size_t size() const { return entries_.size(); }

private:
  std::unordered_map<std::string, PolicyEntry> entries_;  // keyed by lower-case key
};

// [host]:port, [host], host, then .parent for each parent domain, most specific first.
[[nodiscard]] std::vector<std::string> lookup_keys(std::string_view host, std::uint16_t port);

}  // namespace ostls::policy
