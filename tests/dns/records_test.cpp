// RDATA parsing (RFC 6698 §2.1 TLSA, RFC 1035 §3.3.9 MX, RFC 7505 null MX, RFC 5321 §5.1
// ordering, RFC 2782 SRV and its priority/weight order) and the answer state vocabulary.
#include <gtest/gtest.h>

#include <algorithm>

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

std::string srv_rdata(std::uint16_t priority, std::uint16_t weight, std::uint16_t port, const std::string& name) {
  std::string out;
  for (auto v : {priority, weight, port}) {
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v & 0xff);
  }
  return out + name;
}

TEST(Records, Srv) {
  auto srv = parse_srv(srv_rdata(10, 60, 9143, wire_name({"IMAP", "Example", "net"})));
  ASSERT_TRUE(srv);
  EXPECT_EQ(srv->priority, 10);
  EXPECT_EQ(srv->weight, 60);
  EXPECT_EQ(srv->port, 9143);
  EXPECT_EQ(srv->target, "imap.example.net") << "names are normalized to lower case";
  auto high = parse_srv(srv_rdata(65535, 65535, 65535, wire_name({"a"})));
  ASSERT_TRUE(high);
  EXPECT_EQ(high->priority, 65535) << "16-bit fields are unsigned, network order";
  EXPECT_EQ(high->port, 65535);
  auto dot = parse_srv(srv_rdata(0, 0, 0, std::string(1, '\0')));
  ASSERT_TRUE(dot);
  EXPECT_TRUE(dot->target.empty());
  EXPECT_TRUE(is_no_service({*dot})) << "RFC 2782: a lone '.' target: the service is not offered";
  EXPECT_FALSE(is_no_service({*dot, *srv})) << "'.' among other records is only an unusable record";
  EXPECT_FALSE(is_no_service({*srv}));
  EXPECT_FALSE(is_no_service({}));
}

struct BadSrv {
  const char* label;
  std::string rdata;
};

TEST(Records, MalformedSrv) {
  const BadSrv rows[] = {
      {"empty", {}},
      {"fields only", std::string(6, '\0')},
      {"no target name at all", std::string("\x00\x01\x00\x02\x00", 5)},
      {"label past the end", srv_rdata(1, 1, 1, std::string("\x05" "ab", 3))},
      {"compression pointer (RFC 2782: never compressed)", srv_rdata(1, 1, 1, std::string("\xc0\x0c", 2))},
      {"trailing junk", srv_rdata(1, 1, 1, wire_name({"a"}) + "x")},
      {"no terminating root", srv_rdata(1, 1, 1, std::string("\x01" "a", 2))},
      {"label over 63 octets", srv_rdata(1, 1, 1, std::string(1, '\x40') + std::string(64, 'a') + std::string(1, '\0'))},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    auto srv = parse_srv(r.rdata);
    ASSERT_FALSE(srv);
    EXPECT_EQ(srv.error().fault, Fault::Dns);
  }
}

// A deterministic stand-in for the random source: returns the queued numbers in turn and
// records each bound it was asked for.
struct QueuedPick {
  std::vector<std::uint64_t> numbers;
  std::vector<std::uint64_t> bounds;
  std::size_t next = 0;
  Pick pick() {
    return [this](std::uint64_t bound) {
      bounds.push_back(bound);
      return next < numbers.size() ? numbers[next++] : 0;
    };
  }
};

std::vector<std::string> targets(const std::vector<Srv>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.target);
  return out;
}

struct OrderCase {
  const char* label;                  // RFC 2782 "Usage rules"
  std::vector<Srv> in;
  std::vector<std::uint64_t> picks;
  std::vector<std::string> want;
  std::vector<std::uint64_t> bounds;  // the weight sums asked for, in turn
};

TEST(Records, SrvOrder) {
  const OrderCase rows[] = {
      {"lowest priority first, whatever the weights",
       {{20, 100, 1, "c"}, {10, 0, 1, "a"}, {15, 5, 1, "b"}}, {0, 0, 0}, {"a", "b", "c"}, {0, 5, 100}},
      {"equal priority: a pick of 0 takes a weight-0 record first (they lead the running sum)",
       {{10, 50, 1, "w50"}, {10, 0, 1, "w0"}}, {0, 0}, {"w0", "w50"}, {50, 50}},
      {"equal priority: a pick of 1 passes the weight-0 record",
       {{10, 50, 1, "w50"}, {10, 0, 1, "w0"}}, {1, 0}, {"w50", "w0"}, {50, 0}},
      {"running sums 10, 30, 60: a pick of 30 selects the second, then 31 of the remaining 40 the third",
       {{1, 10, 1, "a"}, {1, 20, 1, "b"}, {1, 30, 1, "c"}}, {30, 31, 0}, {"b", "c", "a"}, {60, 40, 10}},
      {"a pick of exactly the sum selects the last record",
       {{1, 10, 1, "a"}, {1, 20, 1, "b"}}, {30, 10}, {"b", "a"}, {30, 10}},
      {"a pick above the bound is reduced modulo bound + 1 (31 → 0 of 30)",
       {{1, 10, 1, "a"}, {1, 20, 1, "b"}}, {31, 0}, {"a", "b"}, {30, 20}},
      {"all weights 0: resolver order", {{5, 0, 1, "x"}, {5, 0, 1, "y"}, {5, 0, 1, "z"}}, {0, 0, 0},
       {"x", "y", "z"}, {0, 0, 0}},
      {"groups are ordered independently", {{2, 1, 1, "p2"}, {1, 1, 1, "p1a"}, {1, 1, 1, "p1b"}}, {2, 0, 0},
       {"p1b", "p1a", "p2"}, {2, 1, 1}},
      {"empty", {}, {}, {}, {}},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    QueuedPick q{.numbers = r.picks, .bounds = {}};
    const auto out = order_srv(r.in, q.pick());
    EXPECT_EQ(targets(out), r.want);
    EXPECT_EQ(q.bounds, r.bounds);
  }
}

TEST(Records, SrvOrderKeepsEveryRecordWithAnyPick) {
  std::vector<Srv> in;
  for (std::uint16_t i = 0; i < 20; ++i) {
    in.push_back({static_cast<std::uint16_t>(i % 3), static_cast<std::uint16_t>(i * 7 % 5), 1, std::to_string(i)});
  }
  for (std::uint64_t seed : {0ull, 1ull, 7ull, ~0ull}) {
    const auto out = order_srv(in, [&seed](std::uint64_t) { return seed = seed * 6364136223846793005ull + 1; });
    ASSERT_EQ(out.size(), in.size());
    for (std::size_t i = 1; i < out.size(); ++i) EXPECT_LE(out[i - 1].priority, out[i].priority);
    auto sorted = targets(out);
    auto want = targets(in);
    std::sort(sorted.begin(), sorted.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(sorted, want);
  }
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

TEST(Records, TxtRdataStringsAreConcatenated) {
  const std::string two = std::string("\x0bv=TLSRPTv1;", 12) + std::string("\x18rua=mailto:a@example.com", 25);
  auto t = parse_txt(two);
  ASSERT_TRUE(t) << t.error().detail;
  EXPECT_EQ(*t, "v=TLSRPTv1;rua=mailto:a@example.com");
  EXPECT_EQ(*parse_txt(std::string("\x00", 1)), "");
  EXPECT_FALSE(parse_txt(""));
  EXPECT_FALSE(parse_txt("\x05" "abc"));  // the string overruns the RDATA
}

}  // namespace
}  // namespace ostls::dns
