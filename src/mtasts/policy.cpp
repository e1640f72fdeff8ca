#include "mtasts/policy.hpp"

#include <utility>

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "core/names.hpp"

namespace ostls::mtasts {
namespace {

constexpr std::array<Named<Mode>, 3> mode_table{{
    {Mode::Enforce, "enforce"},
    {Mode::Testing, "testing"},
    {Mode::None, "none"},
}};
static_assert(covers(mode_table, 3));

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_wsp(char c) { return c == ' ' || c == '\t'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Input quoted for an error detail: printable ASCII kept, the rest \xNN, at most 48 bytes shown,
// so that hostile input can neither flood nor forge a log line.
std::string show(std::string_view s) {
  constexpr std::size_t max_shown = 48;
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < max_shown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  out += s.size() > max_shown ? "\"..." : "\"";
  return out;
}

unexpected<Error> malformed(std::string detail) { return fail(Errc::Malformed, Fault::Peer, std::move(detail)); }

// sts-ext-name / sts-policy-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
bool is_name_char(char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; }
bool is_ext_name(std::string_view s) { return !s.empty() && s.size() <= 32 && is_alnum(s[0]); }

// sts-id value: 1*32(ALPHA / DIGIT)
bool is_id(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    if (!is_alnum(c)) return false;
  }
  return true;
}

// sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): visible ASCII except ";" and "=".
bool is_txt_value_char(char c) { return c >= 0x21 && c <= 0x7e && c != ';' && c != '='; }

// The length of the UTF8-2 / UTF8-3 / UTF8-4 sequence (RFC 3629 §4) at the start of s, or 0.
std::size_t utf8_length(std::string_view s) {
  auto at = [&](std::size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u; };
  auto tail = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xbf) { return at(i) >= lo && at(i) <= hi; };
  const unsigned b = at(0);
  if (b >= 0xc2 && b <= 0xdf) return tail(1) ? 2 : 0;
  if (b == 0xe0) return tail(1, 0xa0) && tail(2) ? 3 : 0;
  if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) return tail(1) && tail(2) ? 3 : 0;
  if (b == 0xed) return tail(1, 0x80, 0x9f) && tail(2) ? 3 : 0;  // no UTF-16 surrogates
  if (b == 0xf0) return tail(1, 0x90) && tail(2) && tail(3) ? 4 : 0;
  if (b >= 0xf1 && b <= 0xf3) return tail(1) && tail(2) && tail(3) ? 4 : 0;
  if (b == 0xf4) return tail(1, 0x80, 0x8f) && tail(2) && tail(3) ? 4 : 0;
  return 0;
}

// sts-policy-ext-value = sts-policy-vchar [*(%x20 / sts-policy-vchar) sts-policy-vchar],
// sts-policy-vchar = %x21-7E / UTF8-2 / UTF8-3 / UTF8-4. The caller has removed the *WSP on both
// sides, so the value is well-formed when it is not empty and every byte is SP, VCHAR or UTF-8.
bool is_policy_ext_value(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c <= 0x7e) {
      ++i;
    } else if (const auto n = utf8_length(s.substr(i)); n > 0) {
      i += n;
    } else {
      return false;
    }
  }
  return true;
}

// sts-policy-mx-value = ["*."] Domain, Domain as RFC 5321 §4.1.2 in A-label form: LDH labels
// that neither start nor end with "-", at most 63 octets each and 253 in all, no trailing dot.
std::optional<std::string> mx_pattern_error(std::string_view pattern) {
  const auto domain = pattern.starts_with("*.") ? pattern.substr(2) : pattern;
  if (domain.empty()) return "is empty";
  if (domain.size() > 253) return "is longer than 253 octets";
  if (domain.ends_with('.')) return "ends with a dot";
  std::size_t start = 0;
  while (true) {
    const auto dot = std::min(domain.find('.', start), domain.size());
    const auto label = domain.substr(start, dot - start);
    if (label.empty()) return "has an empty label";
    if (label.size() > 63) return "has a label longer than 63 octets";
    for (char c : label) {
      if (!is_alnum(c) && c != '-') return "is not a host name in A-label form (letters, digits, \"-\")";
    }
    if (label.front() == '-' || label.back() == '-') return "has a label that starts or ends with \"-\"";
    if (dot == domain.size()) return std::nullopt;
    start = dot + 1;
  }
}

// sts-policy-max-age-value = 1*10(DIGIT), at most limits::max_age.
Result<std::uint32_t> parse_max_age(std::string_view s) {
  if (s.empty() || s.size() > 10) return malformed(fmt::format("max_age {} is not 1 to 10 digits", show(s)));
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return malformed(fmt::format("max_age {} is not a number of seconds", show(s)));
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > limits::max_age) {
    return malformed(fmt::format("max_age {} is above the RFC 8461 maximum {}", v, limits::max_age));
  }
  return static_cast<std::uint32_t>(v);
}

std::string_view trim_wsp(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

// sts-field-delim = *WSP ";" *WSP
bool take_delim(std::string_view s, std::size_t& pos) {
  auto i = pos;
  while (i < s.size() && is_wsp(s[i])) ++i;
  if (i == s.size() || s[i] != ';') return false;
  ++i;
  while (i < s.size() && is_wsp(s[i])) ++i;
  pos = i;
  return true;
}

// The policy parsed so far, and which of the fields allowed only once have been seen.
struct PolicyDraft {
  Policy policy;
  bool version = false, mode = false, max_age = false;
};

// RFC 8461 §3.2: a field other than mx that appears again keeps its first value (the repeats are
// ignored, not an error: rejecting the policy would leave the domain without MTA-STS at all);
// fields may come in any order.
Result<bool> apply_field(PolicyDraft& d, std::string_view name, std::string_view value, bool /*first*/) {
  if (name == "version") {
    if (std::exchange(d.version, true)) return true;
    if (value != "STSv1") return malformed(fmt::format("version {} is not STSv1", show(value)));
  } else if (name == "mode") {
    if (std::exchange(d.mode, true)) return true;
    const auto mode = parse_mode(value);
    if (!mode) return malformed(fmt::format("mode {} is not enforce, testing or none", show(value)));
    d.policy.mode = *mode;
  } else if (name == "max_age") {
    if (std::exchange(d.max_age, true)) return true;
    auto age = parse_max_age(value);
    if (!age) return unexpected<Error>(age.error());
    d.policy.max_age = *age;
  } else if (name == "mx") {
    if (const auto why = mx_pattern_error(value)) return malformed(fmt::format("mx {} {}", show(value), *why));
    d.policy.mx.emplace_back(value);
  } else {
    if (!is_policy_ext_value(value)) return malformed(fmt::format("field {} has a malformed value {}", name, show(value)));
    d.policy.extensions.push_back({std::string(name), std::string(value)});
  }
  return true;
}

// One line, its terminator removed: sts-policy-field *WSP.
Result<bool> parse_line(PolicyDraft& d, std::string_view line, bool first) {
  if (line.empty()) return malformed("empty line");
  if (line.find('\r') != std::string_view::npos) return malformed("CR not followed by LF");
  std::size_t n = 0;
  while (n < line.size() && is_name_char(line[n])) ++n;
  const auto name = line.substr(0, n);
  // sts-policy-field-delim = ":" *WSP: nothing between the name and the colon.
  if (n == line.size() || line[n] != ':' || !is_ext_name(name)) {
    return malformed(fmt::format("expected \"name: value\", got {}", show(line)));
  }
  return apply_field(d, name, trim_wsp(line.substr(n + 1)), first);
}

}  // namespace

std::string_view name(Mode mode) { return name_in(mode_table, mode); }
std::optional<Mode> parse_mode(std::string_view text) { return parse_in(mode_table, text); }

std::string Policy::to_string() const {
  std::string out = fmt::format("mode={} max_age={}", name(mode), max_age);
  for (std::size_t i = 0; i < mx.size(); ++i) out += (i == 0 ? " mx=" : ",") + mx[i];
  return out;
}

Result<TxtRecord> parse_txt(std::string_view record) {
  // sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
  if (record.size() > limits::max_txt_bytes) return malformed("TXT record longer than 65535 bytes");
  constexpr std::string_view version = "v=STSv1";
  if (!record.starts_with(version)) return malformed(fmt::format("TXT record {} does not begin with v=STSv1", show(record)));
  TxtRecord out;
  std::size_t pos = version.size(), fields = 0;
  while (pos < record.size()) {
    if (!take_delim(record, pos)) return malformed(fmt::format("expected \";\" at {}", show(record.substr(pos))));
    if (pos == record.size()) break;  // one trailing delimiter is allowed
    const auto start = pos;
    while (pos < record.size() && is_name_char(record[pos])) ++pos;
    const auto name = record.substr(start, pos - start);
    if (!is_ext_name(name) || pos == record.size() || record[pos] != '=') {
      return malformed(fmt::format("expected \"name=value\" at {}", show(record.substr(start))));
    }
    const auto value_start = ++pos;
    while (pos < record.size() && is_txt_value_char(record[pos])) ++pos;
    const auto value = record.substr(value_start, pos - value_start);
    ++fields;
    if (name == "id") {
      if (!out.id.empty()) return malformed("id appears more than once");
      if (!is_id(value)) return malformed(fmt::format("id {} is not 1 to 32 letters and digits", show(value)));
      out.id = std::string(value);
    } else if (value.empty()) {
      return malformed(fmt::format("field {} has an empty or malformed value", show(name)));
    } else {
      out.extensions.push_back({std::string(name), std::string(value)});
    }
  }
  if (fields == 0 || out.id.empty()) return malformed("TXT record has no id field");
  return out;
}

Result<std::optional<TxtRecord>> select_txt(std::span<const std::string> records) {
  // §3.1: records that do not begin with "v=STSv1;" are discarded. The ABNF's delimiter allows
  // white space before the ";", so such a record counts too (RFC 8461 errata 6285).
  auto announces = [](std::string_view r) {
    std::size_t pos = 7;
    return r.starts_with("v=STSv1") && take_delim(r, pos);
  };
  const std::string* chosen = nullptr;
  std::size_t count = 0;
  for (const auto& r : records) {
    if (!announces(r)) continue;
    ++count;
    if (chosen == nullptr) chosen = &r;
  }
  if (count == 0) return std::optional<TxtRecord>{};
  if (count > 1) return malformed(fmt::format("{} TXT records begin with v=STSv1, RFC 8461 §3.1 allows one", count));
  auto txt = parse_txt(*chosen);
  if (!txt) return unexpected<Error>(txt.error());
  return std::optional<TxtRecord>{std::move(*txt)};
}

Result<Policy> parse_policy(std::string_view body) {
  // sts-policy-record = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP) [sts-policy-term]
  if (body.size() > limits::max_policy_bytes) {
    return fail(Errc::ReplyTooLong, Fault::Peer, fmt::format("policy of {} bytes, more than 64 KiB", body.size()));
  }
  if (body.empty()) return malformed("empty policy");
  PolicyDraft d;
  std::size_t pos = 0;
  for (int line_no = 1; pos < body.size(); ++line_no) {
    const auto lf = body.find('\n', pos);
    const auto end = lf == std::string_view::npos ? body.size() : lf;
    auto line = body.substr(pos, end - pos);
    if (lf != std::string_view::npos && line.ends_with('\r')) line.remove_suffix(1);  // CRLF
    pos = lf == std::string_view::npos ? body.size() : lf + 1;
    if (auto r = parse_line(d, line, line_no == 1); !r) {
      return malformed(fmt::format("policy line {}: {}", line_no, r.error().detail));
    }
  }
  if (!d.version) return malformed("policy has no version field");
  if (!d.mode) return malformed("policy has no mode field");
  if (!d.max_age) return malformed("policy has no max_age field");
  // §3.2: mx is required unless the mode is none.
  if (d.policy.mx.empty() && d.policy.mode != Mode::None) {
    return malformed(fmt::format("policy in mode {} has no mx field", name(d.policy.mode)));
  }
  return std::move(d.policy);
}

bool mx_matches(std::string_view pattern, std::string_view host) {
  auto strip_root = [](std::string_view s) { return s.ends_with('.') ? s.substr(0, s.size() - 1) : s; };
  auto iequal = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
  };
  pattern = strip_root(pattern);
  host = strip_root(host);
  if (pattern.empty() || host.empty()) return false;
  if (!pattern.starts_with("*.")) return iequal(pattern, host);
  // §4.1: the wildcard stands for exactly one label, the leftmost one, and not for none.
  const auto suffix = pattern.substr(2);
  const auto dot = host.find('.');
  if (suffix.empty() || dot == 0 || dot == std::string_view::npos) return false;
  return iequal(host.substr(dot + 1), suffix);
}

std::optional<std::string_view> matching_pattern(const Policy& policy, std::string_view host) {
  for (const auto& p : policy.mx) {
    if (mx_matches(p, host)) return p;
  }
  return std::nullopt;
}

}  // namespace ostls::mtasts
