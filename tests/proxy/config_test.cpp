// `ostls proxy` configuration (proxy/config.hpp): the documented keys, and every kind of mistake
// refused with the file, the line and the key — never a default silently taken instead.
#include <gtest/gtest.h>

#include <string>

#include "proxy/config.hpp"

namespace ostls::proxy {
namespace {

const char* good = R"(store = "none"
metrics = "127.0.0.1:9109"
drain_timeout = 2.5
workers = 3

[[listener]]
name = "outbound-smtp"
mode = "client"
protocol = "smtp"
listen = "127.0.0.1:10025"
connect = "mx.example.org:25"
policy = "dane"
sticky = true

[[listener]]
name = "outbound-domain"
mode = "client"
protocol = "smtp"
listen = "[::1]:10026"
destination = "example.org"
port = 2525

[[listener]]
name = "inbound-smtp"
mode = "server"
protocol = "smtp"
listen = "0.0.0.0:25"
backend = "127.0.0.1:2525"
cert = "/etc/ostls/cert.pem"
key = "/etc/ostls/key.pem"
require_tls = true
proxy_protocol = true
max_connections = 50
max_connections_per_client = 10
idle_timeout = 60

[[listener]]
name = "inbound-imaps"
mode = "server"
protocol = "imaps"
listen = "0.0.0.0:993"
backend = "127.0.0.1:1143"
cert = "c.pem"
key = "k.pem"

[[listener]]
name = "transparent"
mode = "client"
protocol = "smtp"
listen = "127.0.0.1:10027"
transparent = true
mark = 0x4f53
session_resumption = false
)";

TEST(ProxyConfig, TheDocumentedKeys) {
  auto c = parse(good, "proxy.toml");
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c->store, "none");
  ASSERT_TRUE(c->metrics);
  EXPECT_EQ(c->metrics->to_string(), "127.0.0.1:9109");
  EXPECT_EQ(c->drain_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(c->workers, 3u);
  ASSERT_EQ(c->listeners.size(), 5u);
  const auto& out = c->listeners[0];
  EXPECT_EQ(out.mode, Mode::Client);
  EXPECT_EQ(out.connect->host, "mx.example.org");
  EXPECT_EQ(out.connect->port, 25);
  EXPECT_EQ(out.level, Level::Dane);
  EXPECT_TRUE(out.level_given);
  EXPECT_TRUE(out.sticky);
  EXPECT_EQ(out.line, 6);
  EXPECT_TRUE(out.session_resumption);
  EXPECT_FALSE(out.transparent);
  const auto& domain = c->listeners[1];
  EXPECT_EQ(domain.listen.host, "::1");
  EXPECT_EQ(domain.listen.to_string(), "[::1]:10026");
  EXPECT_EQ(domain.destination, "example.org");
  EXPECT_EQ(domain.port, 2525);
  EXPECT_EQ(domain.level, Level::Opportunistic);
  EXPECT_FALSE(domain.level_given);
  const auto& in = c->listeners[2];
  EXPECT_EQ(in.mode, Mode::Server);
  EXPECT_EQ(in.backend->to_string(), "127.0.0.1:2525");
  EXPECT_TRUE(in.require_tls);
  EXPECT_TRUE(in.proxy_protocol);
  EXPECT_FALSE(in.implicit_tls);
  EXPECT_EQ(in.max_connections, 50u);
  EXPECT_EQ(in.max_connections_per_client, 10u);
  EXPECT_EQ(c->listeners[3].max_connections_per_client, 0u);  // default: no limit
  EXPECT_EQ(in.idle_timeout, std::chrono::seconds(60));
  EXPECT_TRUE(c->listeners[3].implicit_tls);  // imaps: TLS from the first byte
  const auto& tp = c->listeners[4];
  EXPECT_TRUE(tp.transparent);
  EXPECT_EQ(tp.mark, 0x4f53u);
  EXPECT_FALSE(tp.session_resumption);
  EXPECT_FALSE(tp.connect);
  EXPECT_FALSE(tp.destination);
}

struct Bad {
  const char* label;
  std::string text;
  std::string error;  // a part of the message, with the line
};

std::string listener(const std::string& extra, const std::string& mode = "server") {
  std::string base = "[[listener]]\nname = \"x\"\nmode = \"" + mode + "\"\nprotocol = \"smtp\"\nlisten = \"127.0.0.1:1\"\n";
  if (mode == "server") base += "backend = \"127.0.0.1:2\"\ncert = \"c\"\nkey = \"k\"\n";
  else base += "connect = \"127.0.0.1:3\"\n";
  return base + extra;
}

TEST(ProxyConfig, MistakesNameTheLine) {
  const Bad cases[] = {
      {"TOML syntax", "[[listener]]\nname = \"x\n", "proxy.toml:2:"},
      {"unknown key", listener("requre_tls = true\n"), "proxy.toml:9: listener \"x\": unknown key \"requre_tls\""},
      {"unknown top-level key", "stor = \"none\"\n" + listener(""), "proxy.toml:1: unknown key \"stor\""},
      {"wrong type", listener("require_tls = \"yes\"\n"), "proxy.toml:9: listener \"x\": require_tls must be true or false"},
      {"bad mode", "[[listener]]\nname = \"x\"\nmode = \"both\"\n", "proxy.toml:3: listener \"x\": mode must be"},
      {"unknown protocol", "[[listener]]\nname = \"x\"\nmode = \"server\"\nprotocol = \"gopher\"\n", "proxy.toml:4:"},
      {"listen without port", "[[listener]]\nname = \"x\"\nmode = \"server\"\nprotocol = \"smtp\"\nlisten = \"127.0.0.1\"\n",
       "proxy.toml:5: listener \"x\": listen:"},
      {"port out of range", listener("", "client") + "[[listener]]\nname = \"y\"\nmode = \"client\"\nprotocol = \"smtp\"\n"
                                                     "listen = \"127.0.0.1:9\"\nconnect = \"h:70000\"\n",
       "proxy.toml:12: listener \"y\": connect:"},
      {"server key in client mode", listener("cert = \"c\"\n", "client"), "proxy.toml:7: listener \"x\": cert is for mode = \"server\""},
      {"client key in server mode", listener("policy = \"may\"\n"), "proxy.toml:9: listener \"x\": policy is for mode = \"client\""},
      {"connect and destination", listener("destination = \"example.org\"\n", "client"), "exactly one of connect"},
      {"unknown level", listener("policy = \"strict\"\n", "client"), "proxy.toml:7: listener \"x\": unknown policy level"},
      {"client mode for ldap", "[[listener]]\nname = \"x\"\nmode = \"client\"\nprotocol = \"ldap\"\nlisten = \"127.0.0.1:1\"\n",
       "proxy.toml:4: listener \"x\": client mode speaks"},
      {"client mode on implicit TLS", "[[listener]]\nname = \"x\"\nmode = \"client\"\nprotocol = \"smtps\"\nlisten = \"127.0.0.1:1\"\n",
       "needs the STARTTLS scheme"},
      {"no backend", "[[listener]]\nname = \"x\"\nmode = \"server\"\nprotocol = \"smtp\"\nlisten = \"127.0.0.1:1\"\n",
       "proxy.toml:1: listener \"x\": backend"},
      {"no cert", "[[listener]]\nname = \"x\"\nmode = \"server\"\nprotocol = \"smtp\"\nlisten = \"127.0.0.1:1\"\nbackend = \"h:1\"\n",
       "cert and key"},
      {"duplicate name", listener("") + listener(""), "proxy.toml:9: listener name \"x\" is used twice"},
      {"no listener", "store = \"none\"\n", "no [[listener]]"},
      {"timeout not positive", listener("idle_timeout = 0\n"), "idle_timeout must be a number of seconds"},
      {"max_connections zero", listener("max_connections = 0\n"), "max_connections must be between 1"},
      {"max_connections_per_client negative", listener("max_connections_per_client = -1\n"),
       "max_connections_per_client must be between 0"},
      {"no name", "[[listener]]\nmode = \"server\"\n", "proxy.toml:1: listener 1: name is required"},
      {"transparent and connect", listener("transparent = true\nmark = 1\n", "client"), "exactly one of connect"},
      {"transparent without mark",
       "[[listener]]\nname = \"x\"\nmode = \"client\"\nprotocol = \"smtp\"\nlisten = \"127.0.0.1:1\"\ntransparent = true\n",
       "proxy.toml:6: listener \"x\": transparent needs mark"},
      {"transparent in server mode", listener("transparent = true\n"), "transparent is for mode = \"client\""},
      {"mark zero", listener("mark = 0\n", "client"), "mark must be between 1"},
      {"workers out of range", "workers = 1000\n" + listener(""), "proxy.toml:1: workers must be between 0 and 256"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    const auto r = parse(c.text, "proxy.toml");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::Usage);
    EXPECT_NE(r.error().detail.find(c.error), std::string::npos) << r.error().detail;
  }
}

TEST(ProxyConfig, Endpoints) {
  EXPECT_EQ(parse_endpoint("[2001:db8::1]:25")->host, "2001:db8::1");
  EXPECT_EQ(parse_endpoint("mx.example.org:2525")->port, 2525);
  for (const char* bad : {"", "host", ":25", "host:", "host:0", "host:65536", "host:2x", "::1:25", "[::1]25", "[::1]"}) {
    EXPECT_FALSE(parse_endpoint(bad)) << bad;
  }
}

}  // namespace
}  // namespace ostls::proxy
