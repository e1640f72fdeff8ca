#include "probe/target.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace ostls::probe {
namespace {

bool valid_hostname(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

bool is_ipv4(std::string_view h) {
  int dots = 0;
  for (char c : h) {
    if (c == '.') ++dots;
    else if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return dots == 3;
}

bool is_ipv6(std::string_view h) {
  return h.find(':') != std::string_view::npos &&
         std::all_of(h.begin(), h.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
         });
}

}  // namespace

Result<Target> parse_target(std::string_view text, std::string_view default_scheme) {
  if (text.find("://") == std::string_view::npos && !default_scheme.empty()) {
    auto t = parse_target(std::string(default_scheme) + "://" + std::string(text));
    if (t) t->text = std::string(text);
    return t;
  }
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    return fail(Errc::Usage, Fault::Config,
                fmt::format("target \"{}\" has no scheme: write PROTO://host[:port], e.g. smtp://[mx.example.org]", text));
  }
  const auto scheme = text.substr(0, sep);
  const auto protocol = proto::find_protocol(scheme);
  if (!protocol) {
    return fail(Errc::Usage, Fault::Config, fmt::format("unknown protocol \"{}\" in target \"{}\"", scheme, text));
  }
  Target t{.text = std::string(text), .protocol = *protocol, .host = {}, .port = protocol->port};
  auto rest = text.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) {
      return fail(Errc::Usage, Fault::Config, fmt::format("unbalanced '[' in target \"{}\"", text));
    }
    t.bracketed = true;
    t.host = std::string(rest.substr(1, close - 1));
    const auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(Errc::Usage, Fault::Config, fmt::format("junk after ']' in target \"{}\"", text));
      port_text = after.substr(1);
    }
  } else {
    const auto colon = rest.rfind(':');
    t.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (t.host.size() > 5 && t.host.compare(0, 5, "ipv6:") == 0) t.host.erase(0, 5);  // Postfix [ipv6:…]
  t.is_ip_literal = is_ipv4(t.host) || is_ipv6(t.host);
  if (!t.is_ip_literal && !valid_hostname(t.host)) {
    return fail(Errc::Usage, Fault::Config, fmt::format("invalid host \"{}\" in target \"{}\"", t.host, text));
  }
  if (is_ipv6(t.host) && !t.bracketed) {
    return fail(Errc::Usage, Fault::Config, fmt::format("write IPv6 literals in brackets: \"{}\"", text));
  }
  if (!port_text.empty() || (rest.find(':') != std::string_view::npos && !t.bracketed)) {
    unsigned value = 0;
    const auto* end = port_text.data() + port_text.size();
    const auto [ptr, ec] = std::from_chars(port_text.data(), end, value);
    if (port_text.empty() || ec != std::errc{} || ptr != end || value == 0 || value > 65535) {
      return fail(Errc::Usage, Fault::Config, fmt::format("invalid port in target \"{}\"", text));
    }
    t.port = static_cast<std::uint16_t>(value);
    t.port_given = true;
  }
  return t;
}

Result<Target> with_tls_mode(Target t, TlsMode mode) {
  if (mode == TlsMode::AsScheme) return t;
  const bool implicit = mode == TlsMode::Implicit;
  if (t.protocol.implicit_tls == implicit) return t;
  for (const auto& p : proto::protocols()) {
    if (p.family == t.protocol.family && p.implicit_tls == implicit) {
      t.protocol = p;
      if (!t.port_given) t.port = p.port;  // a written port stays; otherwise the variant's default
      return t;
    }
  }
  return fail(Errc::Usage, Fault::Config,
              fmt::format("{} has no {} variant", t.protocol.canonical, implicit ? "implicit-TLS" : "STARTTLS"));
}

}  // namespace ostls::probe
