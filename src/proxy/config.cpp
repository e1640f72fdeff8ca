#include "proxy/config.hpp"

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace ostls::proxy {
namespace {

constexpr std::size_t max_config_bytes = 1 << 20;

unexpected<Error> config_error(const std::string& path, std::int64_t line, std::string message) {
  return fail(Errc::Usage, Fault::Config, line > 0 ? fmt::format("{}:{}: {}", path, line, message)
                                                   : fmt::format("{}: {}", path, message));
}

std::int64_t line_of(const toml::node& n) { return static_cast<std::int64_t>(n.source().begin.line); }

// The keys of one table, read once each; whatever is left over is an unknown key.
class Reader {
public:
  Reader(const toml::table& t, const std::string& path, std::string where)
      : t_(t), path_(path), where_(std::move(where)) {}

  // nullptr when absent; an error when present with another type.
  template <class T>
  Result<std::optional<T>> get(std::string_view key, std::string_view type_name) {
    seen_.insert(std::string(key));
    const toml::node* n = t_.get(key);
    if (n == nullptr) return std::optional<T>{};
    auto v = n->value_exact<T>();
    if (!v) return config_error(path_, line_of(*n), fmt::format("{}{} must be {}", where_, key, type_name));
    return std::optional<T>{*v};
  }
  Result<std::optional<std::string>> string(std::string_view key) { return get<std::string>(key, "a string"); }
  Result<std::optional<bool>> boolean(std::string_view key) { return get<bool>(key, "true or false"); }
  // A number of seconds (integer or fractional), > 0 and <= `max`.
  Result<std::optional<std::chrono::milliseconds>> seconds(std::string_view key, double max) {
    seen_.insert(std::string(key));
    const toml::node* n = t_.get(key);
    if (n == nullptr) return std::optional<std::chrono::milliseconds>{};
    const auto v = n->value<double>();
    if (!v || !(*v > 0) || *v > max) {
      return config_error(path_, line_of(*n), fmt::format("{}{} must be a number of seconds in (0, {}]", where_, key, max));
    }
    return std::optional{std::chrono::milliseconds(static_cast<std::int64_t>(*v * 1000))};
  }
  Result<std::optional<std::int64_t>> integer(std::string_view key, std::int64_t min, std::int64_t max) {
    auto v = get<std::int64_t>(key, "an integer");
    if (!v || !*v) return v;
    if (**v < min || **v > max) {
      return config_error(path_, line(key), fmt::format("{}{} must be between {} and {}", where_, key, min, max));
    }
    return v;
  }
  std::int64_t line(std::string_view key) const {
    const toml::node* n = t_.get(key);
    return n ? line_of(*n) : line_of(t_);
  }
  Result<void> no_unknown_keys() const {
    for (auto&& [k, v] : t_) {
      if (!seen_.contains(std::string(k.str()))) {
        return config_error(path_, line_of(v), fmt::format("{}unknown key \"{}\"", where_, k.str()));
      }
    }
    return {};
  }

private:
  const toml::table& t_;
  const std::string& path_;
  std::string where_;
  std::set<std::string> seen_;
};

// Unwraps a Result<std::optional<T>> into `out` when present; returns the error otherwise.
#define OSTLS_READ(expr, out)                                  \
  do {                                                         \
    auto r_ = (expr);                                          \
    if (!r_) return unexpected<Error>(r_.error());             \
    if (*r_) (out) = std::move(**r_);                          \
  } while (0)

// Keys present where they do not belong.
using Flags = std::initializer_list<std::pair<bool, std::string_view>>;

// Client mode relays the application's session after replaying the peer's greeting: the
// protocols whose session starts with a greeting and capabilities it asks for again.
bool client_mode_supported(proto::Family f) {
  return f == proto::Family::Smtp || f == proto::Family::Lmtp || f == proto::Family::Imap || f == proto::Family::Pop3;
}

Result<Listener> read_listener(const toml::table& t, const std::string& path, std::size_t index) {
  Listener l;
  l.line = static_cast<int>(line_of(t));
  {
    Reader first(t, path, fmt::format("listener {}: ", index + 1));
    OSTLS_READ(first.string("name"), l.name);
  }
  if (l.name.empty()) return config_error(path, l.line, fmt::format("listener {}: name is required", index + 1));
  Reader r(t, path, fmt::format("listener \"{}\": ", l.name));
  (void)r.string("name");
  const auto at = [&](std::string_view key, std::string message) { return config_error(path, r.line(key), message); };

  std::string mode, protocol, listen;
  OSTLS_READ(r.string("mode"), mode);
  if (mode == "client") l.mode = Mode::Client;
  else if (mode == "server") l.mode = Mode::Server;
  else return at("mode", fmt::format("listener \"{}\": mode must be \"client\" or \"server\"", l.name));

  OSTLS_READ(r.string("protocol"), protocol);
  const auto info = proto::find_protocol(protocol);
  if (!info) return at("protocol", fmt::format("listener \"{}\": unknown protocol \"{}\"", l.name, protocol));
  l.protocol = *info;

  OSTLS_READ(r.string("listen"), listen);
  auto ep = parse_endpoint(listen);
  if (!ep) return at("listen", fmt::format("listener \"{}\": listen: {}", l.name, ep.error().detail));
  l.listen = *ep;

  // Keys of both modes.
  std::int64_t max_conn = static_cast<std::int64_t>(l.max_connections), max_line = static_cast<std::int64_t>(l.limits.max_line);
  OSTLS_READ(r.integer("max_connections", 1, 1000000), max_conn);
  OSTLS_READ(r.integer("max_line", 64, 1 << 24), max_line);
  l.max_connections = static_cast<std::size_t>(max_conn);
  std::int64_t per_client = 0;
  OSTLS_READ(r.integer("max_connections_per_client", 0, 1000000), per_client);
  l.max_connections_per_client = static_cast<std::size_t>(per_client);
  l.limits.max_line = static_cast<std::size_t>(max_line);
  OSTLS_READ(r.seconds("handshake_timeout", 3600), l.handshake_timeout);
  OSTLS_READ(r.seconds("idle_timeout", 86400), l.idle_timeout);

  // Client mode.
  std::optional<std::string> connect, destination, level, mta_sts_port_text;
  OSTLS_READ(r.string("connect"), connect);
  OSTLS_READ(r.string("destination"), destination);
  OSTLS_READ(r.string("policy"), level);
  OSTLS_READ(r.string("policy_map"), l.policy_map);
  OSTLS_READ(r.string("cafile"), l.cafile);
  OSTLS_READ(r.string("capath"), l.capath);
  OSTLS_READ(r.string("helo"), l.helo);
  OSTLS_READ(r.string("servername"), l.servername);
  OSTLS_READ(r.boolean("sticky"), l.sticky);
  OSTLS_READ(r.boolean("transparent"), l.transparent);
  OSTLS_READ(r.boolean("session_resumption"), l.session_resumption);
  std::int64_t mark = 0;
  OSTLS_READ(r.integer("mark", 1, 0xffffffffLL), mark);
  l.mark = static_cast<std::uint32_t>(mark);
  std::int64_t mx_port = 0;
  OSTLS_READ(r.integer("port", 1, 65535), mx_port);
  l.port = static_cast<std::uint16_t>(mx_port);
  std::int64_t sts_port = 443;
  OSTLS_READ(r.integer("mta_sts_port", 1, 65535), sts_port);
  l.mta_sts_port = static_cast<std::uint16_t>(sts_port);

  // Server mode.
  std::optional<std::string> backend;
  OSTLS_READ(r.string("backend"), backend);
  OSTLS_READ(r.string("cert"), l.cert);
  OSTLS_READ(r.string("key"), l.key);
  OSTLS_READ(r.boolean("implicit_tls"), l.implicit_tls);
  OSTLS_READ(r.boolean("require_tls"), l.require_tls);
  OSTLS_READ(r.boolean("proxy_protocol"), l.proxy_protocol);
  if (auto u = r.no_unknown_keys(); !u) return unexpected<Error>(u.error());

  const auto only = [&](bool present, std::string_view key, std::string_view mode_name) -> Result<void> {
    if (present) return at(key, fmt::format("listener \"{}\": {} is for mode = \"{}\" listeners", l.name, key, mode_name));
    return {};
  };
  if (l.mode == Mode::Client) {
    if (!client_mode_supported(l.protocol.family)) {
      return at("protocol", fmt::format("listener \"{}\": client mode speaks smtp, submission, lmtp, imap and pop3; "
                                        "\"{}\" is served in mode = \"server\" only",
                                        l.name, protocol));
    }
    if (l.protocol.implicit_tls) {
      return at("protocol", fmt::format("listener \"{}\": client mode needs the STARTTLS scheme (the application "
                                        "speaks cleartext to the proxy; the proxy negotiates TLS upstream)",
                                        l.name));
    }
    for (const auto& [present, key] : Flags{{backend.has_value(), "backend"}, {!l.cert.empty(), "cert"},
                                       {!l.key.empty(), "key"}, {t.contains("implicit_tls"), "implicit_tls"},
                                       {t.contains("require_tls"), "require_tls"},
                                       {t.contains("proxy_protocol"), "proxy_protocol"}}) {
      if (auto o = only(present, key, "server"); !o) return unexpected<Error>(o.error());
    }
    if (static_cast<int>(connect.has_value()) + static_cast<int>(destination.has_value()) + static_cast<int>(l.transparent) != 1) {
      return config_error(path, l.line,
                          fmt::format("listener \"{}\": give exactly one of connect = \"host:port\", "
                                      "destination = \"domain\" and transparent = true", l.name));
    }
    if (l.transparent && l.mark == 0) {
      return at("transparent", fmt::format("listener \"{}\": transparent needs mark = N: the SO_MARK that exempts the "
                                           "proxy's own upstream connections from the redirect rule", l.name));
    }
    if (l.transparent && l.port != 0) {
      return at("port", fmt::format("listener \"{}\": port goes with destination; transparent uses the original one", l.name));
    }
    if (connect && l.port != 0) {
      return at("port", fmt::format("listener \"{}\": port goes with destination; connect names its own", l.name));
    }
    if (l.transparent) {
      // the destination comes with each connection
    } else if (connect) {
      auto c = parse_endpoint(*connect);
      if (!c) return at("connect", fmt::format("listener \"{}\": connect: {}", l.name, c.error().detail));
      l.connect = *c;
    } else {
      if (l.protocol.family != proto::Family::Smtp || l.protocol.canonical != "smtp") {
        return at("destination", fmt::format("listener \"{}\": destination (MX resolution) is for smtp", l.name));
      }
      if (destination->empty() || destination->find_first_of(" /:[]") != std::string::npos) {
        return at("destination", fmt::format("listener \"{}\": destination \"{}\" is not a domain", l.name, *destination));
      }
      l.destination = *destination;
    }
    if (level) {
      const auto lv = parse_level(*level);
      if (!lv) return at("policy", fmt::format("listener \"{}\": unknown policy level \"{}\"", l.name, *level));
      if (!is_implemented(*lv)) return at("policy", fmt::format("listener \"{}\": level {} is not available", l.name, *level));
      l.level = *lv;
      l.level_given = true;
    }
  } else {
    for (const auto& [present, key] :
         Flags{{connect.has_value(), "connect"}, {destination.has_value(), "destination"},
          {level.has_value(), "policy"}, {!l.policy_map.empty(), "policy_map"}, {t.contains("sticky"), "sticky"},
          {t.contains("mta_sts_port"), "mta_sts_port"}, {!l.helo.empty(), "helo"}, {t.contains("port"), "port"},
          {!l.servername.empty(), "servername"}, {t.contains("transparent"), "transparent"},
          {t.contains("mark"), "mark"}, {t.contains("session_resumption"), "session_resumption"}}) {
      if (auto o = only(present, key, "client"); !o) return unexpected<Error>(o.error());
    }
    if (!backend) return config_error(path, l.line, fmt::format("listener \"{}\": backend = \"host:port\" is required", l.name));
    auto b = parse_endpoint(*backend);
    if (!b) return at("backend", fmt::format("listener \"{}\": backend: {}", l.name, b.error().detail));
    l.backend = *b;
    if (l.cert.empty() || l.key.empty()) {
      return config_error(path, l.line, fmt::format("listener \"{}\": cert and key (PEM files) are required", l.name));
    }
    if (l.protocol.implicit_tls) l.implicit_tls = true;  // smtps, imaps, …: TLS from the first byte
    if (l.implicit_tls && l.require_tls) {
      return at("require_tls", fmt::format("listener \"{}\": require_tls is implied by implicit_tls", l.name));
    }
  }
  return l;
}

}  // namespace

std::string Endpoint::to_string() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  Endpoint e;
  std::string_view port;
  if (text.starts_with("[")) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(Errc::Usage, Fault::Config, fmt::format("\"{}\": expected [address]:port", text));
    }
    e.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return fail(Errc::Usage, Fault::Config, fmt::format("\"{}\": expected host:port (IPv6 in brackets)", text));
    }
    e.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (e.host.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
    return fail(Errc::Usage, Fault::Config, fmt::format("\"{}\": expected host:port with a port 1-65535", text));
  }
  e.port = static_cast<std::uint16_t>(value);
  return e;
}

Result<Config> parse(std::string_view text, const std::string& path) {
  if (text.size() > max_config_bytes) return config_error(path, 0, fmt::format("larger than {} bytes", max_config_bytes));
  toml::table doc;
  try {
    doc = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return config_error(path, static_cast<std::int64_t>(e.source().begin.line), std::string(e.description()));
  }
  Config c;
  c.path = path;
  Reader r(doc, path, "");
  OSTLS_READ(r.string("store"), c.store);
  OSTLS_READ(r.string("dns_config"), c.dns_config);
  std::optional<std::string> metrics;
  OSTLS_READ(r.string("metrics"), metrics);
  if (metrics) {
    auto m = parse_endpoint(*metrics);
    if (!m) return config_error(path, r.line("metrics"), fmt::format("metrics: {}", m.error().detail));
    c.metrics = *m;
  }
  OSTLS_READ(r.seconds("drain_timeout", 3600), c.drain_timeout);
  std::int64_t workers = 0;
  OSTLS_READ(r.integer("workers", 0, 256), workers);
  c.workers = static_cast<unsigned>(workers);
  (void)r.string("listener");  // read below
  if (auto u = r.no_unknown_keys(); !u) return unexpected<Error>(u.error());

  const toml::node* list = doc.get("listener");
  if (list == nullptr) return config_error(path, 0, "no [[listener]]");
  const auto* array = list->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    return config_error(path, line_of(*list), "listener must be an array of tables ([[listener]])");
  }
  std::set<std::string> names, addresses;
  for (std::size_t i = 0; i < array->size(); ++i) {
    auto l = read_listener(*array->get(i)->as_table(), path, i);
    if (!l) return unexpected<Error>(l.error());
    if (!names.insert(l->name).second) return config_error(path, l->line, fmt::format("listener name \"{}\" is used twice", l->name));
    if (!addresses.insert(l->listen.to_string()).second) {
      return config_error(path, l->line, fmt::format("listener \"{}\": {} is already a listen address", l->name,
                                                     l->listen.to_string()));
    }
    c.listeners.push_back(std::move(*l));
  }
  if (c.metrics && addresses.contains(c.metrics->to_string())) {
    return config_error(path, r.line("metrics"), fmt::format("metrics: {} is also a listener", c.metrics->to_string()));
  }
  return c;
}

Result<Config> load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return config_error(path, 0, "cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

}  // namespace ostls::proxy
