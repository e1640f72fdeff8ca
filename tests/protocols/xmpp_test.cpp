// XMPP STARTTLS (RFC 6120 §5.4, §4.9 stream errors, §11.1 no DTDs): the client fed byte
// streams in arbitrary chunks, including hostile ones.
#include <gtest/gtest.h>

#include "protocols/xmpp.hpp"

namespace ostls::xmpp {
namespace {

const std::string header =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "id='abc' from='example.org' version='1.0'>";
const std::string features_required =
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>";
const std::string proceed = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const std::string failure = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

// Feeds `input` in chunks of `chunk` bytes (as the driver would deliver them) until the client
// asks for something else than more bytes.
proto::Step feed(Client& c, const std::string& input, std::size_t chunk) {
  proto::Step s = proto::ReadBytes{};
  for (std::size_t i = 0; i < input.size() && std::holds_alternative<proto::ReadBytes>(s); i += chunk) {
    s = c.on_bytes(std::string_view(input).substr(i, chunk));
  }
  return s;
}

TEST(Xmpp, FullDialogueInAnyChunking) {
  for (std::size_t chunk : {1u, 7u, 4096u}) {
    SCOPED_TRACE(chunk);
    Client c({.domain = "example.org"});
    auto s = c.start();
    ASSERT_TRUE(std::holds_alternative<proto::Send>(s));
    EXPECT_NE(std::get<proto::Send>(s).bytes.find("to='example.org'"), std::string::npos);
    s = feed(c, header + features_required, chunk);
    ASSERT_TRUE(std::holds_alternative<proto::Send>(s));
    EXPECT_EQ(std::get<proto::Send>(s).bytes, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    EXPECT_EQ(c.facts().starttls_offered, true);
    EXPECT_EQ(c.facts().starttls_required, true);
    EXPECT_EQ(c.facts().caps_plain, (std::vector<std::string>{"starttls", "mechanisms"}));
    s = feed(c, proceed, chunk);
    ASSERT_TRUE(std::holds_alternative<proto::StartTls>(s));
    EXPECT_TRUE(c.facts().events.empty());
    s = c.on_tls_established();
    ASSERT_TRUE(std::holds_alternative<proto::Send>(s)) << "a new stream after TLS";
    s = feed(c, header + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>", chunk);
    ASSERT_TRUE(std::holds_alternative<proto::Close>(s));
    EXPECT_EQ(c.facts().caps_tls, std::vector<std::string>{"mechanisms"});
    EXPECT_FALSE(c.facts().offered_after_tls);
  }
}

TEST(Xmpp, BytesAfterProceedAreInjection) {
  Client c({.domain = "example.org"});
  (void)c.start();
  (void)feed(c, header + features_required, 4096);
  auto s = c.on_bytes(proceed + "<stream:features><mechanisms/></stream:features>");
  ASSERT_TRUE(std::holds_alternative<proto::StartTls>(s));
  ASSERT_EQ(c.facts().events.size(), 1u);
  EXPECT_EQ(c.facts().events[0].type, EventType::ResponseInjection);
}

TEST(Xmpp, FailureWithAndWithoutRequired) {
  Client strict({.domain = "example.org"});
  (void)strict.start();
  (void)feed(strict, header + features_required, 4096);
  auto s = strict.on_bytes(failure + "</stream:stream>");
  ASSERT_TRUE(std::holds_alternative<proto::Fail>(s)) << "required + refused: no cleartext possible";
  Client lax({.domain = "example.org"});
  (void)lax.start();
  (void)feed(lax, header + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>", 4096);
  s = lax.on_bytes(failure);
  ASSERT_TRUE(std::holds_alternative<proto::Close>(s));
  EXPECT_EQ(lax.facts().refusal, "<failure/>");
}

TEST(Xmpp, StrippedStarttlsLeavesRequired) {
  Client c({.domain = "example.org"});
  (void)c.start();
  auto s = feed(c, header + "<stream:features><required/><mechanisms/></stream:features>", 4096);
  ASSERT_TRUE(std::holds_alternative<proto::Close>(s));
  EXPECT_EQ(c.facts().starttls_offered, false);
  ASSERT_EQ(c.facts().events.size(), 1u);
  EXPECT_EQ(c.facts().events[0].type, EventType::StarttlsStripped);
}

struct Hostile {
  const char* label;
  std::string input;
  Errc code;
};

TEST(Xmpp, StreamErrorNamesItsConditionNotItsText) {
  // Prosody sends the condition and then a <text/>; the text must not replace the condition.
  for (const std::string body : {"<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                                 "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>no such host</text>",
                                 "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>no such host</text>"
                                 "<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"}) {
    Client c({.domain = "example.org"});
    (void)c.start();
    auto s = feed(c, header + "<stream:error>" + body + "</stream:error>", 4096);
    ASSERT_TRUE(std::holds_alternative<proto::Fail>(s));
    EXPECT_EQ(std::get<proto::Fail>(s).error.detail, "stream error: host-unknown");
  }
}

TEST(Xmpp, HostileStreams) {
  std::string deep = header + "<stream:features>";
  for (int i = 0; i < 40; ++i) deep += "<a>";
  const Hostile rows[] = {
      {"DTD (billion laughs carrier)", "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x/>", Errc::Malformed},
      {"stream error", header + "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
       Errc::Rejected},
      {"not XML", "220 smtp.example.org ESMTP\r\n", Errc::Malformed},
      {"not a stream", "<html><body>", Errc::Malformed},
      {"too deep", deep, Errc::ReplyTooLong},
      {"closed before features", header + "</stream:stream>", Errc::Closed},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    Client c({.domain = "example.org"});
    (void)c.start();
    auto s = feed(c, r.input, 4096);
    ASSERT_TRUE(std::holds_alternative<proto::Fail>(s));
    EXPECT_EQ(std::get<proto::Fail>(s).error.code, r.code) << std::get<proto::Fail>(s).error.detail;
  }
}

TEST(Xmpp, EndlessFeaturesAreBounded) {
  Limits limits;
  limits.max_reply_bytes = 2048;
  Client c({.domain = "example.org", .limits = limits});
  (void)c.start();
  proto::Step s = c.on_bytes(header + "<stream:features>");
  for (int i = 0; i < 1000 && std::holds_alternative<proto::ReadBytes>(s); ++i) s = c.on_bytes("<x/>");
  ASSERT_TRUE(std::holds_alternative<proto::Fail>(s));
  EXPECT_EQ(std::get<proto::Fail>(s).error.code, Errc::ReplyTooLong);
}

}  // namespace
}  // namespace ostls::xmpp
