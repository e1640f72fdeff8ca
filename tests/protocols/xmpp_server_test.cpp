// XMPP server role (RFC 6120 §5.4 STARTTLS, §4.9 stream errors, §4.7.5 version, §11.1 no DTDs):
// the backend's header and <stream:features> relayed with <starttls/> added, <starttls/>
// answered <proceed/> here, a fresh backend connection after TLS, cleartext relay or
// <policy-violation/> otherwise; byte streams in arbitrary chunks, including hostile ones.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "protocols/any_server.hpp"
#include "protocols/server_steps.hpp"
#include "protocols/xmpp.hpp"

namespace ostls::xmpp {
namespace {

using proto::Action;
using proto::Next;
using test::expect_action;

const std::string client_header =
    "<?xml version='1.0'?><stream:stream to='example.org' version='1.0' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams'>";
const std::string s2s_header =
    "<?xml version='1.0'?><stream:stream to='example.org' from='remote.example' version='1.0' "
    "xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams'>";
const std::string backend_header =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "id='abc' from='example.org' version='1.0'>";
const std::string mechanisms =
    "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>";
const std::string offer = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const std::string offer_required = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>";
const std::string starttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const std::string proceed = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const std::string auth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>";

enum class Side : std::uint8_t { Client, Backend };

// Feeds `input` from one side in chunks of `chunk` bytes, as the driver would deliver them,
// while the machine keeps asking that side for more; the writes of all the actions are joined.
Action feed(Server& s, Side side, const std::string& input, std::size_t chunk = 4096) {
  const Next more = side == Side::Client ? Next::ReadClient : Next::ReadBackend;
  Action joined{{}, {}, more, 0, std::nullopt};
  for (std::size_t i = 0; i < input.size() && joined.next == more; i += chunk) {
    const auto piece = std::string_view(input).substr(i, chunk);
    auto a = side == Side::Client ? s.on_client_bytes(piece) : s.on_backend_bytes(piece);
    if (a.next == Next::ReadClient || a.next == Next::ReadBackend) {
      EXPECT_GT(a.read_bytes, 0u) << "a binary machine always reads bytes";
    }
    joined.to_backend += a.to_backend;
    joined.to_client += a.to_client;
    joined.next = a.next;
    joined.read_bytes = a.read_bytes;
    joined.error = a.error;
  }
  return joined;
}

// A server whose client has opened its stream and whose backend's features have been relayed.
const std::string features_plain = "<stream:features>" + mechanisms + "</stream:features>";

Server featured(ServerParams params = {}, const std::string& features = features_plain) {
  Server s(std::move(params));
  const auto start = s.start();
  EXPECT_EQ(start.next, Next::ReadClient);
  EXPECT_GT(start.read_bytes, 0u);
  expect_action(feed(s, Side::Client, client_header), Next::ReadBackend, "", client_header);
  EXPECT_EQ(feed(s, Side::Backend, backend_header + features).next, Next::ReadClient);
  return s;
}

// ---- §5.4.2: the offer added to the backend's features, <starttls/> answered here -------------

TEST(XmppServer, FullDialogueInAnyChunking) {
  for (std::size_t chunk : {1u, 7u, 4096u}) {
    SCOPED_TRACE(chunk);
    Server s({});
    EXPECT_EQ(s.start().next, Next::ReadClient);
    expect_action(feed(s, Side::Client, client_header, chunk), Next::ReadBackend, "", client_header);
    expect_action(feed(s, Side::Backend, backend_header + features_plain, chunk),
                  Next::ReadClient, backend_header + "<stream:features>" + offer + mechanisms + "</stream:features>");
    expect_action(feed(s, Side::Client, starttls, chunk), Next::StartTls, proceed);
    EXPECT_TRUE(s.facts().upgrade_requested);
    EXPECT_TRUE(s.facts().events.empty());
    // §5.4.3.3: the client opens a new stream, which the old backend stream cannot take.
    expect_action(s.on_tls_established(), Next::ConnectBackend, "", "</stream:stream>");
    expect_action(s.on_backend_connected(), Next::Relay, "");
    EXPECT_TRUE(s.facts().tls_established);
    EXPECT_FALSE(s.facts().relayed_cleartext);
  }
}

struct FeaturesRow {
  const char* label;
  std::string backend;  // the backend's header and features
  bool require_tls;
  std::string client;   // what the client must get
};

TEST(XmppServer, OfferIsTheFirstFeatureWhateverTheirForm) {
  const std::string other_prefix_header =
      "<?xml version='1.0'?><s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams' version='1.0'>";
  const FeaturesRow rows[] = {
      {"with children", backend_header + "<stream:features>" + mechanisms + "</stream:features>", false,
       backend_header + "<stream:features>" + offer + mechanisms + "</stream:features>"},
      {"self-closing", backend_header + "<stream:features/>", false,
       backend_header + "<stream:features>" + offer + "</stream:features>"},
      {"self-closing with a space", backend_header + "<stream:features />", false,
       backend_header + "<stream:features>" + offer + "</stream:features>"},
      {"empty", backend_header + "<stream:features></stream:features>", false,
       backend_header + "<stream:features>" + offer + "</stream:features>"},
      {"another prefix", other_prefix_header + "<s:features/>", false,
       other_prefix_header + "<s:features>" + offer + "</s:features>"},
      {"require_tls", backend_header + "<stream:features>" + mechanisms + "</stream:features>", true,
       backend_header + "<stream:features>" + offer_required + mechanisms + "</stream:features>"},
      {"require_tls, self-closing", backend_header + "<stream:features/>", true,
       backend_header + "<stream:features>" + offer_required + "</stream:features>"},
      {"the backend offers it itself: unchanged", backend_header + "<stream:features>" + offer + "</stream:features>",
       false, backend_header + "<stream:features>" + offer + "</stream:features>"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    Server s({.common = {.require_tls = r.require_tls}});
    (void)s.start();
    (void)feed(s, Side::Client, client_header);
    expect_action(feed(s, Side::Backend, r.backend), Next::ReadClient, r.client);
  }
}

TEST(XmppServer, StarttlsSplitOrLongFormIsAnsweredOnceComplete) {
  auto s = featured();
  expect_action(s.on_client_bytes("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"), Next::ReadClient, "");
  expect_action(s.on_client_bytes("</starttls>"), Next::StartTls, proceed);
  EXPECT_TRUE(s.facts().events.empty());
}

// ---- R10: bytes behind <starttls/> are never relayed ------------------------------------------

TEST(XmppServer, BytesBehindStarttlsAreInjection) {
  auto s = featured();
  // One write: the upgrade and a SASL <auth> that must never reach the backend.
  expect_action(s.on_client_bytes(starttls + auth), Next::StartTls, proceed, "");
  ASSERT_EQ(s.facts().events.size(), 1u);
  EXPECT_EQ(s.facts().events[0].type, EventType::CommandInjection);
  EXPECT_NE(s.facts().events[0].detail.find(std::to_string(auth.size()) + " bytes"), std::string::npos)
      << s.facts().events[0].detail;
  // Nothing of it after TLS either: the old backend stream is closed, the fresh one gets only
  // what the client sends over TLS.
  expect_action(s.on_tls_established(), Next::ConnectBackend, "", "</stream:stream>");
  expect_action(s.on_backend_connected(), Next::Relay, "", "");
}

TEST(XmppServer, StarttlsPipelinedBeforeTheFeaturesIsAnsweredAfterThem) {
  Server s({});
  (void)s.start();
  // The client does not wait for the features: its header alone goes to the backend.
  expect_action(s.on_client_bytes(client_header + starttls + auth), Next::ReadBackend, "", client_header);
  expect_action(s.on_backend_bytes(backend_header + "<stream:features/>"), Next::StartTls,
                backend_header + "<stream:features>" + offer + "</stream:features>" + proceed);
  ASSERT_EQ(s.facts().events.size(), 1u);
  EXPECT_EQ(s.facts().events[0].type, EventType::CommandInjection);
}

// ---- anything else first: cleartext, or §5.3.1 with require_tls --------------------------------

TEST(XmppServer, OtherElementsContinueInCleartextOrAreRefused) {
  auto s = featured();
  expect_action(s.on_client_bytes(auth), Next::Relay, "", auth);
  EXPECT_TRUE(s.facts().relayed_cleartext);
  EXPECT_FALSE(s.facts().upgrade_requested);

  // Decided on the start tag: the rest of the stanza follows through the relay.
  auto partial = featured();
  expect_action(partial.on_client_bytes("<iq type='get' id='1'>"), Next::Relay, "", "<iq type='get' id='1'>");

  // A big first stanza is not held to the pre-TLS bounds: it is not ours to read.
  Limits small;
  small.max_reply_lines = 4;
  auto big = featured({.common = {.limits = small}});
  const std::string roster = "<iq type='set' id='r'><query xmlns='jabber:iq:roster'><item jid='a@b'/><item jid='c@d'/>"
                             "<item jid='e@f'/><item jid='g@h'/></query></iq>";
  expect_action(big.on_client_bytes(roster), Next::Relay, "", roster);

  auto strict = featured({.common = {.require_tls = true}});
  expect_action(strict.on_client_bytes(auth), Next::Close,
                "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
                "</stream:stream>",
                "</stream:stream>");
  EXPECT_FALSE(strict.facts().relayed_cleartext);
}

TEST(XmppServer, PipelinedAuthBeforeTheFeaturesIsRelayedAfterThem) {
  Server s({});
  (void)s.start();
  expect_action(s.on_client_bytes(client_header + auth), Next::ReadBackend, "", client_header);
  expect_action(s.on_backend_bytes(backend_header + "<stream:features/>"), Next::Relay,
                backend_header + "<stream:features>" + offer + "</stream:features>", auth);
  EXPECT_TRUE(s.facts().relayed_cleartext);
}

TEST(XmppServer, ClientClosingItsStreamIsRelayed) {
  auto s = featured();
  expect_action(s.on_client_bytes("</stream:stream>"), Next::Relay, "", "</stream:stream>");
  EXPECT_FALSE(s.facts().relayed_cleartext);
}

// ---- §4.9.3.10: c2s and s2s ports take their own content namespace ----------------------------

TEST(XmppServer, ContentNamespaceOfThePort) {
  Server s2s({.server_to_server = true});
  (void)s2s.start();
  expect_action(s2s.on_client_bytes(s2s_header), Next::ReadBackend, "", s2s_header);
  expect_action(s2s.on_backend_bytes(backend_header + "<stream:features/>"), Next::ReadClient,
                backend_header + "<stream:features>" + offer + "</stream:features>");
  expect_action(s2s.on_client_bytes(starttls), Next::StartTls, proceed);
  // A dialback request first is not ours to read: cleartext.
  Server dialback({.server_to_server = true});
  (void)dialback.start();
  (void)dialback.on_client_bytes(s2s_header);
  (void)dialback.on_backend_bytes(backend_header + "<stream:features/>");
  const std::string db = "<db:result from='remote.example' to='example.org'>key</db:result>";
  expect_action(dialback.on_client_bytes(db), Next::Relay, "", db);

  struct Row {
    const char* label;
    bool s2s;
    std::string header;
  };
  const Row wrong[] = {
      {"jabber:server on a c2s port", false, s2s_header},
      {"jabber:client on an s2s port", true, client_header},
      {"no content namespace", false,
       "<stream:stream version='1.0' xmlns:stream='http://etherx.jabber.org/streams'>"},
      {"another streams namespace", false, "<stream:stream version='1.0' xmlns='jabber:client' xmlns:stream='urn:x'>"},
  };
  for (const auto& r : wrong) {
    SCOPED_TRACE(r.label);
    Server s({.server_to_server = r.s2s});
    (void)s.start();
    const auto a = s.on_client_bytes(r.header);
    ASSERT_EQ(a.next, Next::Fail);
    EXPECT_EQ(a.error->fault, Fault::Peer);
    EXPECT_TRUE(a.to_backend.empty()) << "nothing reaches the backend";
    // §4.9.1.2: our own stream header, then the error.
    EXPECT_EQ(a.to_client.rfind("<?xml version='1.0'?><stream:stream ", 0), 0u) << a.to_client;
    EXPECT_NE(a.to_client.find("<invalid-namespace xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"), std::string::npos);
  }
}

// ---- the backend's answers other than features --------------------------------------------------

TEST(XmppServer, BackendRefusalsAreRelayed) {
  struct Row {
    const char* label;
    std::string backend;
    bool cleartext;
  };
  const Row rows[] = {
      {"stream error", backend_header + "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                                        "</stream:error></stream:stream>", false},
      {"closed before features", backend_header + "</stream:stream>", false},
      {"pre-1.0 server: no version, no features (§4.7.5)",
       "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
       "xmlns:stream='http://etherx.jabber.org/streams' id='1'>",
       true},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    Server s({});
    (void)s.start();
    (void)s.on_client_bytes(client_header);
    expect_action(s.on_backend_bytes(r.backend), Next::Relay, r.backend);
    EXPECT_EQ(s.facts().relayed_cleartext, r.cleartext);
  }
}

// ---- hostile peers: clean, bounded failures ----------------------------------------------------

struct Hostile {
  const char* label;
  std::string input;
  Errc code;
  std::string_view condition;  // the stream error the client gets
};

TEST(XmppServer, HostileBackends) {
  std::string deep = backend_header + "<stream:features>";
  for (int i = 0; i < 40; ++i) deep += "<a>";
  const Hostile rows[] = {
      {"DTD (billion laughs carrier)", "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x/>", Errc::Malformed, ""},
      {"not XML", "220 smtp.example.org ESMTP\r\n", Errc::Malformed, ""},
      {"not a stream", "<html><body>", Errc::Malformed, ""},
      {"too deep", deep, Errc::ReplyTooLong, ""},
      {"a stanza instead of the features", backend_header + "<message><body>hi</body></message>", Errc::Malformed, ""},
      {"broken features", backend_header + "<stream:features><a></b>", Errc::Malformed, ""},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    Server s({});
    (void)s.start();
    (void)s.on_client_bytes(client_header);
    const auto a = feed(s, Side::Backend, r.input);
    ASSERT_EQ(a.next, Next::Fail);
    EXPECT_EQ(a.error->code, r.code) << a.error->detail;
    EXPECT_EQ(a.error->fault, Fault::Peer);
    EXPECT_EQ(a.error->detail.rfind("backend: ", 0), 0u) << a.error->detail;
    // Nothing of the backend's garbage reaches the client: our header and an error instead.
    EXPECT_EQ(a.to_client.rfind("<?xml version='1.0'?><stream:stream ", 0), 0u) << a.to_client;
    EXPECT_NE(a.to_client.find("<internal-server-error "), std::string::npos) << a.to_client;
    EXPECT_EQ(s.on_backend_bytes("<x/>").error->fault, Fault::Local) << "no input after the end";
  }
}

TEST(XmppServer, HostileClients) {
  std::string deep = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>";
  for (int i = 0; i < 40; ++i) deep += "<a>";
  const Hostile before_header[] = {
      {"DTD", "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x/>", Errc::Malformed, "restricted-xml"},
      {"not XML", "EHLO client.example\r\n", Errc::Malformed, "not-well-formed"},
      {"not a stream", "<html><body>", Errc::Malformed, "invalid-namespace"},
  };
  for (const auto& r : before_header) {
    SCOPED_TRACE(r.label);
    Server s({});
    (void)s.start();
    const auto a = s.on_client_bytes(r.input);
    ASSERT_EQ(a.next, Next::Fail);
    EXPECT_EQ(a.error->code, r.code) << a.error->detail;
    EXPECT_EQ(a.error->detail.rfind("client: ", 0), 0u) << a.error->detail;
    EXPECT_TRUE(a.to_backend.empty());
    EXPECT_NE(a.to_client.find(fmt::format("<{} xmlns=", r.condition)), std::string::npos) << a.to_client;
  }
  const Hostile after_features[] = {
      {"too deep", deep, Errc::ReplyTooLong, "policy-violation"},
      {"broken XML", "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'></proceed>", Errc::Malformed,
       "not-well-formed"},
      {"garbage", "\x01\x02", Errc::Malformed, "not-well-formed"},
  };
  for (const auto& r : after_features) {
    SCOPED_TRACE(r.label);
    auto s = featured();
    const auto a = s.on_client_bytes(r.input);
    ASSERT_EQ(a.next, Next::Fail);
    EXPECT_EQ(a.error->code, r.code) << a.error->detail;
    EXPECT_FALSE(s.facts().upgrade_requested);
    // The backend's stream is open towards the client: no second header, just the error.
    EXPECT_EQ(a.to_client.rfind(fmt::format("<stream:error><{} xmlns=", r.condition), 0), 0u) << a.to_client;
  }
}

TEST(XmppServer, EndlessInputIsBounded) {
  Limits limits;
  limits.max_reply_bytes = 2048;
  Server s({.common = {.limits = limits}});
  (void)s.start();
  (void)s.on_client_bytes(client_header);
  Action a = s.on_backend_bytes(backend_header + "<stream:features>");
  int n = 0;
  for (; n < 1000 && a.next == Next::ReadBackend; ++n) a = s.on_backend_bytes("<x/>");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->code, Errc::ReplyTooLong);
  EXPECT_LT(n, 1000);

  Limits few;
  few.max_reply_lines = 8;  // elements of one side's header and features
  Server f({.common = {.limits = few}});
  (void)f.start();
  (void)f.on_client_bytes(client_header);
  a = f.on_backend_bytes(backend_header + "<stream:features>");
  for (n = 0; n < 1000 && a.next == Next::ReadBackend; ++n) a = f.on_backend_bytes("<x/>");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->code, Errc::ReplyTooLong);
  EXPECT_EQ(n, 7);  // <stream>, <features> and six more; the ninth element fails

  // A client that never finishes its first element.
  auto c = featured({.common = {.limits = limits}});
  a = c.on_client_bytes("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>");
  for (n = 0; n < 1000 && a.next == Next::ReadClient; ++n) a = c.on_client_bytes("          ");
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->code, Errc::ReplyTooLong);
  EXPECT_LT(n, 1000);
}

// ---- calls out of turn ---------------------------------------------------------------------------

TEST(XmppServer, WrongStateCallsFailLocally) {
  Server s({});
  (void)s.start();
  EXPECT_EQ(s.on_backend_bytes(backend_header).error->fault, Fault::Local) << "the client speaks first";
  EXPECT_EQ(s.on_tls_established().error->fault, Fault::Local);
  EXPECT_EQ(s.on_backend_connected().error->fault, Fault::Local);
  (void)s.on_client_bytes(client_header);
  EXPECT_EQ(s.on_client_bytes(starttls).error->fault, Fault::Local) << "features first";
  auto done = featured();
  (void)done.on_client_bytes(starttls);
  EXPECT_EQ(done.on_client_bytes(auth).error->fault, Fault::Local) << "nothing is read before the handshake";
  EXPECT_EQ(done.on_backend_connected().error->fault, Fault::Local) << "TLS first";
  (void)done.on_tls_established();
  EXPECT_EQ(done.on_tls_established().error->fault, Fault::Local);
}

TEST(XmppServer, AnyServerServesBothFamilies) {
  for (auto family : {proto::Family::Xmpp, proto::Family::XmppServer}) {
    auto m = proto::AnyServer::make(family, {});
    ASSERT_TRUE(m.has_value());
    EXPECT_GT(m->start().read_bytes, 0u);
    const auto a = m->on_client_bytes(family == proto::Family::Xmpp ? client_header : s2s_header);
    EXPECT_EQ(a.next, Next::ReadBackend);
    EXPECT_EQ(m->on_client_line("x").error->fault, Fault::Local) << "XMPP is not line-based";
  }
}

}  // namespace
}  // namespace ostls::xmpp
