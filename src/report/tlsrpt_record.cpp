#include "report/tlsrpt_record.hpp"

#include "dns/records.hpp"

#include <cctype>

#include <fmt/format.h>

namespace ostls::report {
namespace {

constexpr std::string_view version = "v=TLSRPTv1";

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

unexpected<Error> malformed(std::string detail) { return fail(Errc::Malformed, Fault::Peer, std::move(detail)); }

std::string shown(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f ? fmt::format("'{}'", c) : fmt::format("byte 0x{:02x}", u);
}

// RFC 3986 characters of a URI (unreserved, sub-delims, gen-delims; "%" is checked apart), less
// the ",", "!" and ";" that RFC 8460 §3 wants percent-encoded.
bool uri_char(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '-': case '.': case '_': case '~':                                          // unreserved
    case '$': case '&': case '\'': case '(': case ')': case '*': case '+': case '=':  // sub-delims
    case ':': case '/': case '?': case '#': case '[': case ']': case '@':            // gen-delims
      return true;
    default:
      return false;
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The host of an https: URI's authority ([userinfo@]host[:port]).
std::string_view https_host(std::string_view rest) {
  if (!rest.starts_with("//")) return {};
  auto authority = rest.substr(2);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    return close == std::string_view::npos ? std::string_view{} : authority.substr(0, close + 1);
  }
  return authority.substr(0, authority.find(':'));
}

Result<void> check_uri(std::string_view uri, std::size_t offset) {
  if (uri.empty()) return malformed(fmt::format("empty URI in the rua= list at offset {}", offset));
  for (std::size_t i = 0; i < uri.size(); ++i) {
    const char c = uri[i];
    if (c == '%') {
      if (i + 2 >= uri.size() || !is_hex(uri[i + 1]) || !is_hex(uri[i + 2])) {
        return malformed(fmt::format("bad percent-encoding at offset {}", offset + i));
      }
      i += 2;
    } else if (!uri_char(c)) {
      const bool encode = c == ',' || c == '!' || c == ';';
      return malformed(fmt::format("{} at offset {} is not allowed in a URI{}", shown(c), offset + i,
                                   encode ? " (RFC 8460 §3: it must be percent-encoded)" : ""));
    }
  }
  const auto colon = uri.find(':');
  const auto scheme = uri.substr(0, colon == std::string_view::npos ? 0 : colon);
  const bool scheme_ok = !scheme.empty() && is_alpha(scheme.front()) &&
                         scheme.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") ==
                             std::string_view::npos;
  if (!scheme_ok) return malformed(fmt::format("\"{}\" at offset {} is not a URI (no scheme)", uri, offset));
  const auto rest = uri.substr(colon + 1);
  const auto s = lower(scheme);
  if (s == "mailto") {
    const auto addr = rest.substr(0, rest.find('?'));
    const auto at = addr.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == addr.size()) {
      return malformed(fmt::format("\"{}\" at offset {} names no mail address (local-part@domain)", uri, offset));
    }
    return {};
  }
  if (s == "https") {
    if (https_host(rest).empty()) {
      return malformed(fmt::format("\"{}\" at offset {} names no host (https://host/…)", uri, offset));
    }
    return {};
  }
  return malformed(fmt::format("unsupported URI scheme \"{}:\" at offset {} (RFC 8460 §3: mailto or https)", scheme,
                               offset));
}

// tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri); `value` starts at `offset`.
Result<std::vector<std::string>> parse_rua(std::string_view value, std::size_t offset) {
  if (!value.empty() && is_wsp(value.front())) {
    return malformed(fmt::format("white space after rua= at offset {}", offset));
  }
  std::vector<std::string> uris;
  std::size_t start = 0;
  for (;;) {
    const auto comma = value.find(',', start);
    const auto end = comma == std::string_view::npos ? value.size() : comma;
    std::size_t b = start, e = end;
    while (b < e && is_wsp(value[b]) && start != 0) ++b;
    while (e > b && is_wsp(value[e - 1]) && comma != std::string_view::npos) --e;
    const auto uri = value.substr(b, e - b);
    if (auto ok = check_uri(uri, offset + b); !ok) return unexpected<Error>(ok.error());
    uris.emplace_back(uri);
    if (comma == std::string_view::npos) return uris;
    start = comma + 1;
  }
}

// tlsrpt-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
bool ext_name(std::string_view n) {
  if (n.empty() || n.size() > 32 || !(is_alpha(n.front()) || is_digit(n.front()))) return false;
  for (const char c : n) {
    if (!(is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

// tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): visible characters but "=" and ";".
Result<void> ext_value(std::string_view v, std::size_t offset) {
  if (v.empty()) return malformed(fmt::format("empty value at offset {}", offset));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x21 || c > 0x7e || c == '=' || c == ';') {
      return malformed(fmt::format("{} at offset {} is not allowed in a field value", shown(v[i]), offset + i));
    }
  }
  return {};
}

struct Field {
  std::size_t end;  // where the field-delim (or the end) begins
};

// One field at `start`; fills the policy. A trailing *WSP belongs to the following field-delim.
Result<Field> parse_field(std::string_view text, std::size_t start, TlsrptPolicy& policy, bool& have_rua) {
  auto eq = start;
  while (eq < text.size() && text[eq] != '=' && text[eq] != ';' && !is_wsp(text[eq])) ++eq;
  const auto name = text.substr(start, eq - start);
  if (name.empty()) return malformed(fmt::format("empty field at offset {}", start));
  if (eq == text.size() || text[eq] != '=') {
    return malformed(fmt::format("field \"{}\" at offset {} is not name=value", name, start));
  }
  if (!ext_name(name)) return malformed(fmt::format("\"{}\" at offset {} is not a field name", name, start));
  const auto value_start = eq + 1;
  const auto semi = text.find(';', value_start);
  const auto value_end = semi == std::string_view::npos ? text.size() : semi;
  auto end = value_end;
  while (end > value_start && is_wsp(text[end - 1])) --end;
  if (semi == std::string_view::npos && end != text.size()) {
    return malformed(fmt::format("white space at the end of the record (offset {})", end));
  }
  const auto value = text.substr(value_start, end - value_start);
  if (name == "rua") {
    if (have_rua) return malformed(fmt::format("a second rua= field at offset {}", start));
    auto uris = parse_rua(value, value_start);
    if (!uris) return unexpected<Error>(uris.error());
    policy.rua = std::move(*uris);
    have_rua = true;
  } else {
    if (auto ok = ext_value(value, value_start); !ok) return unexpected<Error>(ok.error());
    policy.extensions.emplace_back(name, value);
  }
  return Field{end};
}

// Begins with v=TLSRPTv1, then *WSP ";" or the end (not "v=TLSRPTv10").
bool is_candidate(std::string_view text) {
  if (!text.starts_with(version)) return false;
  auto rest = text.substr(version.size());
  while (!rest.empty() && is_wsp(rest.front())) rest.remove_prefix(1);
  return rest.empty() || rest.front() == ';';
}

}  // namespace


Result<std::string> select_record(const std::vector<std::string>& texts) {
  const std::string* found = nullptr;
  std::size_t count = 0;
  for (const auto& t : texts) {
    if (!is_candidate(t)) continue;
    found = &t;
    ++count;
  }
  if (count == 1) return *found;
  if (count > 1) {
    return malformed(fmt::format("{} records begin with v=TLSRPTv1, and RFC 8460 §3 accepts exactly one", count));
  }
  if (texts.empty()) return malformed("no TXT record");
  return malformed(fmt::format("none of the {} TXT record{} begins with v=TLSRPTv1", texts.size(),
                               texts.size() == 1 ? "" : "s"));
}

TlsrptLookup read_tlsrpt(const dns::Answer& answer, std::string_view domain) {
  TlsrptLookup out;
  const auto owner = fmt::format("_smtp._tls.{}", domain);
  // R9's reading for a policy lookup: a bogus or failed answer is no answer at all.
  if (answer.security == dns::Security::Bogus) {
    out.state = "bogus";
    out.error = fmt::format("bogus: {}", answer.why_bogus);
    return out;
  }
  if (!answer.usable()) {
    out.state = "servfail";
    out.error = fmt::format("lookup failed: {}", dns::name(answer.rcode));
    return out;
  }
  if (!answer.has_data()) {
    out.state = "none";
    out.error = fmt::format("{} has no TLS-RPT policy: no TXT record at {}", domain, owner);
    return out;
  }
  out.state = "invalid";
  std::vector<std::string> texts;
  for (const auto& rd : answer.rdata) {
    auto text = dns::parse_txt(rd);
    if (!text) {
      out.error = text.error().detail;
      return out;
    }
    texts.push_back(std::move(*text));
  }
  auto record = select_record(texts);
  if (!record) {
    out.state = "none";
    out.error = fmt::format("{} has no TLS-RPT policy: {}", domain, record.error().detail);
    return out;
  }
  out.record = *record;
  auto policy = parse_record(*record);
  if (!policy) {
    out.error = fmt::format("malformed TLS-RPT record: {}", policy.error().detail);
    return out;
  }
  out.state = "present";
  out.policy = std::move(*policy);
  return out;
}

Result<TlsrptPolicy> parse_record(std::string_view text) {
  if (text.size() > limits::max_tlsrpt_record) {
    return malformed(fmt::format("the record is {} bytes long, more than {}", text.size(), limits::max_tlsrpt_record));
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t') || c > 0x7e) {
      return malformed(fmt::format("{} at offset {}: the record must be printable ASCII", shown(text[i]), i));
    }
  }
  if (!text.starts_with(version)) return malformed("the record does not begin with v=TLSRPTv1");
  TlsrptPolicy policy;
  bool have_rua = false;
  std::size_t pos = version.size();
  while (pos < text.size()) {
    // field-delim = *WSP ";" *WSP
    auto q = pos;
    while (q < text.size() && is_wsp(text[q])) ++q;
    if (q == text.size()) return malformed(fmt::format("white space at the end of the record (offset {})", pos));
    if (text[q] != ';') return malformed(fmt::format("expected ';' at offset {}, found {}", q, shown(text[q])));
    ++q;
    while (q < text.size() && is_wsp(text[q])) ++q;
    if (q == text.size()) break;  // one trailing field-delim
    auto field = parse_field(text, q, policy, have_rua);
    if (!field) return unexpected<Error>(field.error());
    pos = field->end;
  }
  if (!have_rua) {
    return malformed("no rua= field (RFC 8460 §3: it is required; field names are case-sensitive)");
  }
  return policy;
}

}  // namespace ostls::report
