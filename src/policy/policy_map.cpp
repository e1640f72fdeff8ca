#include "policy/policy_map.hpp"

#include "policy/tls_versions.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace ostls::policy {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    const auto start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto end = std::min(s.find(sep, start), s.size());
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

unexpected<Error> syntax(std::string_view origin, int line, std::string what) {
  return fail(Errc::Usage, Fault::Config, fmt::format("{}:{}: {}", origin, line, what));
}

Result<PolicyEntry> parse_entry(std::string_view text, std::string_view origin, int line) {
  const auto f = fields(text);
  if (f.size() < 2) return syntax(origin, line, "expected \"destination level [attribute=value …]\"");
  PolicyEntry e{.key = lower(f[0]), .line = line};
  const auto level = parse_level(lower(f[1]));
  if (!level) return syntax(origin, line, fmt::format("unknown security level \"{}\"", f[1]));
  e.level = *level;
  for (std::size_t i = 2; i < f.size(); ++i) {
    if (lower(f[i]) == "sticky") {  // R11: a suspected downgrade fails instead of continuing in cleartext
      e.sticky = true;
      continue;
    }
    const auto eq = f[i].find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return syntax(origin, line, fmt::format("expected attribute=value, got \"{}\"", f[i]));
    }
    const auto attr = lower(f[i].substr(0, eq));
    const auto value = f[i].substr(eq + 1);
    if (attr == "match") {
      // Postfix separates digests with '|' (they contain ':'), names with ':'.
      const auto parts = split(value, e.level == Level::Fingerprint ? '|' : ':');
      e.match.insert(e.match.end(), parts.begin(), parts.end());
    } else if (attr == "protocols") {
      if (auto r = parse_protocols(value); !r) return syntax(origin, line, r.error().detail);
      e.protocols = std::string(value);
    } else if (attr == "ciphers") {
      const auto grade = lower(value);
      if (grade != "high" && grade != "medium" && grade != "low" && grade != "export" && grade != "null") {
        return syntax(origin, line, fmt::format("unknown cipher grade \"{}\" (high, medium, low, export, null)", value));
      }
      e.ciphers = grade;
    } else if (attr == "servername") {
      e.servername = std::string(value);
    } else {
      return syntax(origin, line, fmt::format("unknown attribute \"{}\"", attr));
    }
  }
  if (e.level == Level::Fingerprint && e.match.empty()) {
    return syntax(origin, line, "level fingerprint needs match=DIGEST[|DIGEST…]");
  }
  return e;
}

}  // namespace

std::string PolicyEntry::to_string() const {
  std::string out = fmt::format("{} {}", key, name(level));
  if (!match.empty()) {
    out += " match=";
    for (std::size_t i = 0; i < match.size(); ++i) {
      if (i) out += level == Level::Fingerprint ? "|" : ":";
      out += match[i];
    }
  }
  if (protocols) out += " protocols=" + *protocols;
  if (ciphers) out += " ciphers=" + *ciphers;
  if (sticky) out += " sticky";
  if (servername) out += " servername=" + *servername;
  return out;
}

Result<PolicyMap> PolicyMap::parse(std::string_view text, std::string_view origin) {
  PolicyMap map;
  std::string logical;
  int logical_line = 0, line_no = 0;
  auto flush = [&]() -> Result<bool> {
    if (logical.empty()) return true;
    auto entry = parse_entry(logical, origin, logical_line);
    logical.clear();
    if (!entry) return unexpected<Error>(entry.error());
    auto key = entry->key;
    if (map.entries_.contains(key)) {
      return syntax(origin, entry->line,
                    fmt::format("duplicate destination \"{}\" (first on line {})", key, map.entries_[key].line));
    }
    map.entries_.emplace(std::move(key), std::move(*entry));
    return true;
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = std::min(text.find('\n', pos), text.size());
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (const auto hash = line.find('#'); hash != std::string_view::npos && fields(line.substr(0, hash)).empty()) {
      continue;  // comment line (Postfix: '#' as first non-blank)
    }
    if (fields(line).empty()) continue;
    if (is_space(line.front()) && !logical.empty()) {  // continuation
      if (logical.size() + line.size() > limits::max_logical_line) return syntax(origin, line_no, "line too long");
      logical += ' ';
      logical += line;
      continue;
    }
    if (auto r = flush(); !r) return unexpected<Error>(r.error());
    if (line.size() > limits::max_logical_line) return syntax(origin, line_no, "line too long");
    logical = std::string(line);
    logical_line = line_no;
  }
  if (auto r = flush(); !r) return unexpected<Error>(r.error());
  return map;
}

Result<PolicyMap> PolicyMap::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(Errc::Usage, Fault::Config, fmt::format("cannot read policy map {}", file.string()));
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > limits::max_file_bytes) {
      return fail(Errc::Usage, Fault::Config, fmt::format("policy map {} is larger than 16 MiB", file.string()));
    }
  }
  return parse(text, file.string());
}

std::vector<std::string> lookup_keys(std::string_view host, std::uint16_t port) {
  const auto h = lower(host);
  std::vector<std::string> keys{fmt::format("[{}]:{}", h, port), fmt::format("[{}]", h), h};
  const bool ip_literal = h.find(':') != std::string::npos ||
                          std::all_of(h.begin(), h.end(), [](char c) { return c == '.' || std::isdigit(static_cast<unsigned char>(c)); });
  if (ip_literal) return keys;
  for (auto dot = h.find('.'); dot != std::string::npos; dot = h.find('.', dot + 1)) {
    if (dot + 1 < h.size()) keys.push_back(h.substr(dot));
  }
  return keys;
}

const PolicyEntry* PolicyMap::lookup(std::string_view host, std::uint16_t port) const {
  for (const auto& key : lookup_keys(host, port)) {
    if (auto it = entries_.find(key); it != entries_.end()) return &it->second;
  }
  return nullptr;
}

}  // namespace ostls::policy
