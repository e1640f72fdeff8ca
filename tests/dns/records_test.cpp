// RDATA parsing (RFC 6698 §2.1 TLSA, RFC 1035 §3.3.9 MX, RFC 7505 null MX, RFC 5321 §5.1
// ordering) and the answer state vocabulary.
#include <gtest/gtest.h>

#include "dns/answer.hpp"
#include "dns/records.hpp"

namespace ostls::dns {
namespace {

std::string wire_name(std::initializer_list<std::string_view> labels) {
  std::string out;
  for (auto l : labels) {
    out += static_cast<char>(l.size());
    out += l;
  }
  out += '\0';
  return out;
}

std::string mx_rdata(std::uint16_t pref, const std::string& name) {
  std::string out;
  out += static_cast<char>(pref >> 8);
  out += static_cast<char>(pref & 0xff);
  return out + name;
}

TEST(Records, Tlsa) {
  const std::string rd = std::string("\x03\x01\x01", 3) + std::string(32, '\xab');
  auto t = parse_tlsa(rd);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->usage, 3);
  EXPECT_EQ(t->selector, 1);
  EXPECT_EQ(t->mtype, 1);
  EXPECT_EQ(t->data.size(), 32u);
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  EXPECT_EQ(t->to_string(), "3 1 1 " + hex);
  for (std::string_view bad : {std::string_view{}, std::string_view{"\x03", 1}, std::string_view{"\x03\x01\x01", 3}}) {
    auto r = parse_tlsa(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().fault, Fault::Dns);
  }
}

TEST(Records, Mx) {
  auto mx = parse_mx(mx_rdata(10, wire_name({"MX1", "Example", "org"})));
  ASSERT_TRUE(mx);
  EXPECT_EQ(mx->preference, 10);
  EXPECT_EQ(mx->exchange, "mx1.example.org") << "names are normalized to lower case";
  auto null_mx = parse_mx(mx_rdata(0, std::string(1, '\0')));
  ASSERT_TRUE(null_mx);
  EXPECT_TRUE(null_mx->exchange.empty());
  EXPECT_TRUE(is_null_mx({*null_mx}));
  EXPECT_FALSE(is_null_mx({*null_mx, *mx})) << "RFC 7505: only a lone '.' is a null MX";
}

struct BadMx {
  const char* label;
  std::string rdata;
};

TEST(Records, MalformedMx) {
  const BadMx rows[] = {
      {"too short", std::string("\x00", 1)},
      {"label past the end", mx_rdata(1, std::string("\x05" "ab", 3))},
      {"compression pointer", mx_rdata(1, std::string("\xc0\x0c", 2))},
      {"trailing junk", mx_rdata(1, wire_name({"a"}) + "x")},
      {"no terminating root", mx_rdata(1, std::string("\x01" "a", 2))},
      {"name over 255 octets", mx_rdata(1, [] {
         std::string s;
         for (int i = 0; i < 5; ++i) s += std::string(1, '\x3f') + std::string(63, 'a');
         return s + std::string(1, '\0');
       }())},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    EXPECT_FALSE(parse_mx(r.rdata));
  }
}

TEST(Records, MxOrderIsStableByPreference) {
  std::vector<Mx> in{{20, "b"}, {10, "a1"}, {30, "c"}, {10, "a2"}};
  const auto out = order_mx(in);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].exchange, "a1");
  EXPECT_EQ(out[1].exchange, "a2");
  EXPECT_EQ(out[2].exchange, "b");
  EXPECT_EQ(out[3].exchange, "c");
}

TEST(Records, Addresses) {
  EXPECT_EQ(*parse_address(std::string("\x7f\x00\x00\x01", 4), rrtype::a), "127.0.0.1");
  std::string v6(16, '\0');
  v6[15] = 1;
  EXPECT_EQ(*parse_address(v6, rrtype::aaaa), "::1");
  EXPECT_FALSE(parse_address("abc", rrtype::a));
  EXPECT_FALSE(parse_address(v6, rrtype::a));
}

TEST(Answer, States) {
  Answer a;
  a.rcode = Rcode::NoError;
  a.security = Security::Secure;
  a.rdata = {"x"};
  EXPECT_EQ(state(a), "secure");
  a.rdata.clear();
  EXPECT_EQ(state(a), "none") << "authenticated denial";
  a.security = Security::Insecure;
  EXPECT_EQ(state(a), "insecure");
  a.rcode = Rcode::ServFail;
  EXPECT_EQ(state(a), "servfail");
  EXPECT_FALSE(a.usable());
  a.rcode = Rcode::Timeout;
  EXPECT_EQ(state(a), "servfail");
  a.rcode = Rcode::NoError;
  a.security = Security::Bogus;
  a.rdata = {"x"};
  EXPECT_EQ(state(a), "bogus") << "libunbound returns bogus data with rcode 0";
  EXPECT_FALSE(a.usable());
  EXPECT_EQ(normalize_name("MX.Example.ORG."), "mx.example.org");
}

}  // namespace
}  // namespace ostls::dns
