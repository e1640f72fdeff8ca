// LDAP server role (RFC 4511 §4.14 StartTLS, §4.1.1 messages and the Notice of Disconnection
// §4.4.1, §4.1.9 confidentialityRequired; RFC 4513 §3; BER per X.690 §8.1): exact response
// bytes, request parsing, the StartTLS dialogue fed as the driver feeds it (never more bytes
// than asked for, so pipelined bytes stay with the driver for R10), cleartext relay,
// require_tls refusals, bounds and out-of-turn calls.
#include <gtest/gtest.h>

#include "protocols/any_server.hpp"
#include "protocols/ldap.hpp"
#include "protocols/server_steps.hpp"

namespace ostls::ldap {
namespace {

using proto::Action;
using proto::Next;
using test::expect_action;

std::string bytes(std::initializer_list<int> b) {
  std::string out;
  for (int c : b) out += static_cast<char>(c);
  return out;
}

// One BER element with a short-form length (the test PDUs are small).
std::string tlv(int tag, const std::string& value) {
  return bytes({tag, static_cast<int>(value.size())}) + value;
}
std::string message(int id, const std::string& op) { return tlv(0x30, tlv(0x02, bytes({id})) + op); }
std::string simple_bind(int id) {
  return message(id, tlv(0x60, tlv(0x02, bytes({3})) + tlv(0x04, "cn=admin,dc=lab,dc=test") + tlv(0x80, "secret")));
}
std::string extended_request(int id, const std::string& oid) { return message(id, tlv(0x77, tlv(0x80, oid))); }
const std::string whoami_oid = "1.3.6.1.4.1.4203.1.11.3";

using Feed = test::ClientBytes;

Action feed(Server& s, std::string in, std::size_t chunk = 65536) {
  Feed f{std::move(in), chunk};
  auto a = f.run(s, s.start());
  EXPECT_TRUE(f.pending.empty()) << "bytes left over: " << f.pending.size();
  return a;
}

const std::string starttls_ok = extended_response(1, 0, "", starttls_oid);

// ---- what the server sends ----------------------------------------------------------------

TEST(LdapServerPdus, ExtendedResponseBytes) {
  // 30 24 02 01 01 78 1f 0a 01 00 04 00 04 00 8a 16 "1.3.6.1.4.1.1466.20037"
  EXPECT_EQ(starttls_ok, bytes({0x30, 0x24, 0x02, 0x01, 0x01, 0x78, 0x1f, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
                                0x8a, 0x16}) + std::string(starttls_oid));
  auto back = parse_extended_response(starttls_ok);  // our own client reads it as success
  ASSERT_TRUE(back) << back.error().detail;
  EXPECT_EQ(back->message_id, 1);
  EXPECT_EQ(back->result_code, 0);
  EXPECT_EQ(back->response_name, starttls_oid);
}

TEST(LdapServerPdus, MessageIdsAreEchoedInMinimalBer) {
  struct Row {
    int id;
    std::string encoded;  // the INTEGER element
  };
  const Row rows[] = {
      {1, bytes({0x02, 0x01, 0x01})},
      {127, bytes({0x02, 0x01, 0x7f})},
      {128, bytes({0x02, 0x02, 0x00, 0x80})},  // X.690 §8.3: a leading zero keeps it positive
      {300, bytes({0x02, 0x02, 0x01, 0x2c})},
      {2147483647, bytes({0x02, 0x04, 0x7f, 0xff, 0xff, 0xff})},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.id);
    const auto pdu = extended_response(r.id, 0, "");
    EXPECT_EQ(pdu.substr(2, r.encoded.size()), r.encoded);
    auto back = parse_extended_response(pdu);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->message_id, r.id);
  }
}

TEST(LdapServerPdus, NoticeOfDisconnection) {
  auto n = parse_extended_response(notice_of_disconnection(2, "malformed LDAPMessage"));
  ASSERT_TRUE(n);
  EXPECT_EQ(n->message_id, 0);
  EXPECT_EQ(n->result_code, 2);
  EXPECT_EQ(n->response_name, notice_of_disconnection_oid);
  EXPECT_EQ(n->diagnostic, "malformed LDAPMessage");
}

TEST(LdapServerPdus, RefusalsMatchTheOperation) {
  struct Row {
    const char* label;
    unsigned char operation;
    int response_tag;  // 0: no response
  };
  const Row rows[] = {
      {"bind", 0x60, 0x61},   {"search", 0x63, 0x65}, {"modify", 0x66, 0x67},  {"add", 0x68, 0x69},
      {"delete", 0x4a, 0x6b}, {"moddn", 0x6c, 0x6d},  {"compare", 0x6e, 0x6f}, {"extended", 0x77, 0x78},
      {"unbind", 0x42, 0},    {"abandon", 0x50, 0},   {"a response tag", 0x61, 0},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    auto out = refusal({.message_id = 5, .operation = r.operation, .request_name = {}}, 13, "TLS first");
    ASSERT_EQ(out.has_value(), r.response_tag != 0);
    if (!out) continue;
    // 30 len 02 01 05 <tag> len 0a 01 0d 04 00 04 09 "TLS first"
    EXPECT_EQ(*out, tlv(0x30, bytes({0x02, 0x01, 0x05}) +
                                  tlv(r.response_tag, bytes({0x0a, 0x01, 0x0d, 0x04, 0x00}) + tlv(0x04, "TLS first"))));
  }
}

// ---- what the client sends ----------------------------------------------------------------

TEST(LdapServerRequests, Parses) {
  auto tls = parse_request(starttls_request(1));
  ASSERT_TRUE(tls) << tls.error().detail;
  EXPECT_EQ(tls->message_id, 1);
  EXPECT_EQ(tls->operation, 0x77);
  EXPECT_EQ(tls->request_name, starttls_oid);
  auto bind = parse_request(simple_bind(7));
  ASSERT_TRUE(bind);
  EXPECT_EQ(bind->message_id, 7);
  EXPECT_EQ(bind->operation, 0x60);
  EXPECT_TRUE(bind->request_name.empty());
  // Controls behind the operation are allowed and not interpreted.
  auto with_controls = parse_request(tlv(0x30, bytes({0x02, 0x01, 0x02}) + tlv(0x77, tlv(0x80, std::string(starttls_oid))) +
                                                   tlv(0xa0, tlv(0x30, tlv(0x04, "1.2.3")))));
  ASSERT_TRUE(with_controls);
  EXPECT_EQ(with_controls->request_name, starttls_oid);
}

TEST(LdapServerRequests, RejectsMalformed) {
  struct Row {
    const char* label;
    std::string pdu;
  };
  const Row rows[] = {
      {"not a SEQUENCE", tlv(0x31, bytes({0x02, 0x01, 0x01, 0x42, 0x00}))},
      {"messageID 0 (reserved for notices)", message(0, bytes({0x42, 0x00}))},
      {"negative messageID", tlv(0x30, bytes({0x02, 0x01, 0xff, 0x42, 0x00}))},
      {"five-octet messageID", tlv(0x30, bytes({0x02, 0x05, 0x00, 0x80, 0, 0, 0, 0x42, 0x00}))},
      {"no messageID", tlv(0x30, bytes({0x42, 0x00}))},
      {"no operation", tlv(0x30, bytes({0x02, 0x01, 0x01}))},
      {"ExtendedRequest without requestName", message(1, tlv(0x77, tlv(0x81, "x")))},
      {"empty ExtendedRequest", message(1, bytes({0x77, 0x00}))},
      {"truncated operation", tlv(0x30, bytes({0x02, 0x01, 0x01, 0x60, 0x10, 0x02}))},
      {"multi-octet tag", tlv(0x30, bytes({0x02, 0x01, 0x01, 0x7f, 0x81, 0x00}))},
      {"bytes behind the message", starttls_request(1) + bytes({0x00})},
      {"indefinite length", bytes({0x30, 0x80, 0x02, 0x01, 0x01, 0x42, 0x00, 0x00, 0x00})},
      {"empty", ""},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    auto p = parse_request(r.pdu);
    EXPECT_FALSE(p);
    if (!p) {
      EXPECT_EQ(p.error().fault, Fault::Peer);
    }
  }
}

// ---- the StartTLS dialogue ------------------------------------------------------------------

TEST(LdapServer, StartTlsIsAnsweredHere) {
  Server s({});
  auto a = s.start();
  EXPECT_EQ(a.next, Next::ReadClient);
  EXPECT_EQ(a.read_bytes, 2u) << "no greeting: the client speaks first";
  const auto req = starttls_request(1);
  a = s.on_client_bytes(req.substr(0, 2));
  EXPECT_EQ(a.read_bytes, req.size() - 2) << "exactly the rest of the message";
  a = s.on_client_bytes(req.substr(2));
  expect_action(a, Next::StartTls, starttls_ok);
  EXPECT_TRUE(s.facts().upgrade_requested);
  EXPECT_FALSE(s.facts().relayed_cleartext);
  expect_action(s.on_tls_established(), Next::Relay, "");
  EXPECT_TRUE(s.facts().tls_established);
}

TEST(LdapServer, StartTlsInSmallReadsAndLongForm) {
  for (std::size_t chunk : {1u, 3u, 7u}) {
    SCOPED_TRACE(chunk);
    Server s({});
    expect_action(feed(s, starttls_request(300), chunk), Next::StartTls, extended_response(300, 0, "", starttls_oid));
  }
  // The same request with a long-form length (30 81 1d): the length octet is asked for alone.
  auto req = starttls_request(1);
  const auto long_form = bytes({0x30, 0x81}) + req.substr(1);
  Server s({});
  (void)s.start();
  auto a = s.on_client_bytes(long_form.substr(0, 2));
  EXPECT_EQ(a.read_bytes, 1u);
  a = s.on_client_bytes(long_form.substr(2, 1));
  EXPECT_EQ(a.read_bytes, long_form.size() - 3);
  expect_action(s.on_client_bytes(long_form.substr(3)), Next::StartTls, starttls_ok);
}

TEST(LdapServer, PipelinedBindStaysWithTheDriver) {
  // R10: the BindRequest behind StartTLS in the same write is never handed to the machine; the
  // driver finds it in its leftover, records command-injection and discards it.
  Server s({});
  Feed f{starttls_request(1) + simple_bind(2)};
  auto a = f.run(s, s.start());
  expect_action(a, Next::StartTls, starttls_ok);
  EXPECT_EQ(f.pending, simple_bind(2));
}

TEST(LdapServer, MoreBytesThanAskedForFailClosed) {
  Server s({});
  (void)s.start();
  auto a = s.on_client_bytes(starttls_request(1) + simple_bind(2));
  expect_action(a, Next::Fail, "");
  EXPECT_EQ(a.error->fault, Fault::Local);
  EXPECT_FALSE(s.facts().upgrade_requested);
  Server e({});
  (void)e.start();
  expect_action(e.on_client_bytes(""), Next::Fail, "");
}

// ---- any other first message ----------------------------------------------------------------

TEST(LdapServer, OtherFirstMessagesContinueInCleartext) {
  struct Row {
    const char* label;
    std::string pdu;
  };
  const Row rows[] = {
      {"bind", simple_bind(1)},
      {"who am i", extended_request(1, whoami_oid)},
      {"unbind", message(1, bytes({0x42, 0x00}))},
      {"root DSE search", message(1, tlv(0x63, tlv(0x04, "") + bytes({0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00,
                                                                      0x02, 0x01, 0x00, 0x01, 0x01, 0x00}) +
                                                   tlv(0x87, "objectClass") + bytes({0x30, 0x00})))},
      {"an operation we do not know", message(1, bytes({0x55, 0x00}))},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    Server s({});
    expect_action(feed(s, r.pdu), Next::Relay, "", r.pdu);
    EXPECT_TRUE(s.facts().relayed_cleartext);
    EXPECT_FALSE(s.facts().upgrade_requested);
  }
}

TEST(LdapServer, RequireTlsRefusesWithConfidentialityRequired) {
  Server s({.require_tls = true});
  Feed f{simple_bind(1) + extended_request(2, whoami_oid) + message(3, bytes({0x50, 0x01, 0x02})) +
         starttls_request(4)};
  auto a = f.run(s, s.start());
  const std::string diag = "TLS required: send StartTLS (1.3.6.1.4.1.1466.20037) first";
  expect_action(a, Next::ReadClient, *refusal({1, 0x60, {}}, 13, diag));
  EXPECT_EQ(a.read_bytes, 2u);
  a = f.run(s, a);
  expect_action(a, Next::ReadClient, extended_response(2, 13, diag), "");
  EXPECT_EQ(parse_extended_response(a.to_client)->response_name, "") << "not the StartTLS OID: that means success";
  a = f.run(s, a);  // the Abandon has no response; the StartTLS request that follows does
  expect_action(a, Next::StartTls, extended_response(4, 0, "", starttls_oid));
  EXPECT_TRUE(f.pending.empty());
  EXPECT_FALSE(s.facts().relayed_cleartext);
  expect_action(s.on_tls_established(), Next::Relay, "");
}

TEST(LdapServer, RequireTlsUnbindClosesAndUnknownDisconnects) {
  Server u({.require_tls = true});
  expect_action(feed(u, message(1, bytes({0x42, 0x00}))), Next::Close, "");
  Server x({.require_tls = true});
  auto a = feed(x, message(1, bytes({0x55, 0x00})));
  EXPECT_EQ(a.next, Next::Fail);
  EXPECT_EQ(parse_extended_response(a.to_client)->response_name, notice_of_disconnection_oid);
  EXPECT_TRUE(a.to_backend.empty());
}

// ---- bounds and hostile input -----------------------------------------------------------------

TEST(LdapServer, MalformedClientInputGetsANoticeOfDisconnection) {
  struct Row {
    const char* label;
    std::string in;
  };
  const Row rows[] = {
      {"HTTP", "GET / HTTP/1.1\r\n"},
      {"indefinite length", bytes({0x30, 0x80})},
      {"five length octets", bytes({0x30, 0x85, 0, 0, 0, 0, 1})},
      {"messageID 0", message(0, tlv(0x77, tlv(0x80, std::string(starttls_oid))))},
      {"garbage inside", tlv(0x30, bytes({0x04, 0x01, 0x41}))},
  };
  for (bool strict : {false, true}) {
    for (const auto& r : rows) {
      SCOPED_TRACE(std::string(r.label) + (strict ? " (require_tls)" : ""));
      Server s({.require_tls = strict});
      Feed f{r.in};
      auto a = f.run(s, s.start());
      ASSERT_EQ(a.next, Next::Fail);
      EXPECT_EQ(a.error->fault, Fault::Peer);
      EXPECT_TRUE(a.to_backend.empty()) << "nothing malformed reaches the backend";
      auto notice = parse_extended_response(a.to_client);
      ASSERT_TRUE(notice);
      EXPECT_EQ(notice->message_id, 0);
      EXPECT_EQ(notice->result_code, 2);
      EXPECT_FALSE(s.facts().upgrade_requested);
    }
  }
}

TEST(LdapServer, OversizedMessageIsForwardedOrRefusedNeverBuffered) {
  Limits limits;
  limits.max_reply_bytes = 100;
  const auto header = bytes({0x30, 0x82, 0x01, 0x00});  // a 256-byte body follows
  Server s({.limits = limits});
  Feed f{header + std::string(256, 'x')};
  auto a = f.run(s, s.start());
  expect_action(a, Next::Relay, "", header);
  EXPECT_EQ(f.pending.size(), 256u) << "the relay copies the rest; the machine buffered only the header";
  EXPECT_TRUE(s.facts().relayed_cleartext);

  Server strict({.require_tls = true, .limits = limits});
  Feed g{header + std::string(256, 'x')};
  a = g.run(strict, strict.start());
  ASSERT_EQ(a.next, Next::Fail);
  EXPECT_EQ(a.error->code, Errc::ReplyTooLong);
  EXPECT_TRUE(a.to_backend.empty());

  Server huge({});
  a = feed(huge, bytes({0x30, 0x84, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(a.next, Next::Relay) << "4 GiB announced: forwarded at once, never awaited";
}

TEST(LdapServer, OutOfTurnCallsFailClosed) {
  Server s({});
  auto a = s.on_backend_bytes("0\x0c\x02\x01\x01");  // no greeting: the backend is never read
  expect_action(a, Next::Fail, "");
  EXPECT_EQ(a.error->fault, Fault::Local);
  Server early({});
  (void)early.start();
  expect_action(early.on_tls_established(), Next::Fail, "");
  EXPECT_FALSE(early.facts().tls_established);
  Server done({});
  (void)feed(done, starttls_request(1));
  expect_action(done.on_client_bytes("0"), Next::Fail, "");
  expect_action(done.on_backend_bytes("0"), Next::Fail, "");
  expect_action(done.on_tls_established(), Next::Relay, "");
  expect_action(done.on_tls_established(), Next::Fail, "");
  Server relayed({});
  (void)feed(relayed, simple_bind(1));
  expect_action(relayed.on_tls_established(), Next::Fail, "");
}

TEST(LdapServer, AnyServerRoutesBytesNotLines) {
  auto s = proto::AnyServer::make(proto::Family::Ldap, {});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->start().read_bytes, 2u);
  EXPECT_EQ(s->on_client_line("a STARTTLS").next, Next::Fail);
  const auto req = starttls_request(1);
  (void)s->on_client_bytes(req.substr(0, 2));
  expect_action(s->on_client_bytes(req.substr(2)), Next::StartTls, starttls_ok);
}

}  // namespace
}  // namespace ostls::ldap
