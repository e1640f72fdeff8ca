// The TLS-RPT policy record (report/tlsrpt_record.hpp): RFC 8460 §3 (the `_smtp._tls` TXT record:
// ABNF, rua URIs, extensions, choosing the one v=TLSRPTv1 record), RFC 1035 §3.3.14 (TXT RDATA).
#include <gtest/gtest.h>

#include "report/tlsrpt_record.hpp"

namespace ostls::report {
namespace {

struct Good {
  const char* label;
  const char* text;
  std::vector<std::string> rua;
  std::size_t extensions;
};

TEST(TlsrptRecord, AcceptsWhatSection3Allows) {
  const Good cases[] = {
      {"RFC example, mailto", "v=TLSRPTv1;rua=mailto:reports@example.com", {"mailto:reports@example.com"}, 0},
      {"RFC example, https", "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt",
       {"https://reporting.example.com/v1/tlsrpt"}, 0},
      {"two URIs, white space around the comma", "v=TLSRPTv1; rua=mailto:a@example.com , https://r.example.com/x",
       {"mailto:a@example.com", "https://r.example.com/x"}, 0},
      {"white space around the separator", "v=TLSRPTv1 ;\trua=mailto:a@example.com", {"mailto:a@example.com"}, 0},
      {"one trailing separator", "v=TLSRPTv1; rua=mailto:a@example.com; ", {"mailto:a@example.com"}, 0},
      {"trailing separator without space", "v=TLSRPTv1;rua=mailto:a@example.com;", {"mailto:a@example.com"}, 0},
      {"extensions are ignored", "v=TLSRPTv1; ext.1=a-b; rua=mailto:a@example.com; x_y=1:2/3",
       {"mailto:a@example.com"}, 2},
      {"an extension named like the version", "v=TLSRPTv1; rua=mailto:a@example.com; v=TLSRPTv2",
       {"mailto:a@example.com"}, 1},
      {"schemes are case-insensitive", "v=TLSRPTv1; rua=MAILTO:a@example.com,HTTPS://r.example.com",
       {"MAILTO:a@example.com", "HTTPS://r.example.com"}, 0},
      {"percent-encoded comma and query", "v=TLSRPTv1; rua=mailto:a%2Cb@example.com?subject=tls%21",
       {"mailto:a%2Cb@example.com?subject=tls%21"}, 0},
      {"https with user, port, IPv6 literal", "v=TLSRPTv1; rua=https://u@[2001:db8::1]:8443/r,https://h:1/",
       {"https://u@[2001:db8::1]:8443/r", "https://h:1/"}, 0},
      {"rua after an extension, extension value with '<'", "v=TLSRPTv1;a=<b>;rua=mailto:x@y",
       {"mailto:x@y"}, 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    const auto r = parse_record(c.text);
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->rua, c.rua);
    EXPECT_EQ(r->extensions.size(), c.extensions);
  }
}

struct Bad {
  const char* label;
  std::string text;
  const char* error;  // a part of the message
};

TEST(TlsrptRecord, RejectsWhatSection3DoesNotAllow) {
  const Bad cases[] = {
      {"empty", "", "does not begin with v=TLSRPTv1"},
      {"version not first", "rua=mailto:a@example.com; v=TLSRPTv1", "does not begin with v=TLSRPTv1"},
      {"version in lower case", "v=tlsrptv1; rua=mailto:a@example.com", "does not begin with v=TLSRPTv1"},
      {"no rua", "v=TLSRPTv1", "no rua= field"},
      {"no rua, trailing separator", "v=TLSRPTv1;", "no rua= field"},
      {"RUA is not rua (case-sensitive)", "v=TLSRPTv1; RUA=mailto:a@example.com", "no rua= field"},
      {"version run on", "v=TLSRPTv10; rua=mailto:a@example.com", "expected ';' at offset 10"},
      {"no separator", "v=TLSRPTv1 rua=mailto:a@example.com", "expected ';' at offset 11"},
      {"empty field", "v=TLSRPTv1;; rua=mailto:a@example.com", "empty field at offset 11"},
      {"two trailing separators", "v=TLSRPTv1; rua=mailto:a@example.com;;", "empty field"},
      {"white space at the end", "v=TLSRPTv1; rua=mailto:a@example.com ", "white space at the end"},
      {"white space before =", "v=TLSRPTv1; rua =mailto:a@example.com", "is not name=value"},
      {"white space after rua=", "v=TLSRPTv1; rua= mailto:a@example.com", "white space after rua="},
      {"empty rua", "v=TLSRPTv1; rua=", "empty URI"},
      {"empty URI in the list", "v=TLSRPTv1; rua=mailto:a@example.com,", "empty URI"},
      {"unencoded '!'", "v=TLSRPTv1; rua=mailto:a!b@example.com", "'!' at offset 24 is not allowed in a URI (RFC 8460"},
      {"DMARC size suffix", "v=TLSRPTv1; rua=mailto:a@example.com!10m", "'!' at offset"},
      {"space inside a URI", "v=TLSRPTv1; rua=https://example.com/a b", "byte 0x20 at offset"},
      {"bad percent-encoding", "v=TLSRPTv1; rua=mailto:a%2@example.com", "bad percent-encoding"},
      {"unsupported scheme", "v=TLSRPTv1; rua=ftp://example.com/r", "unsupported URI scheme \"ftp:\""},
      {"http is not https", "v=TLSRPTv1; rua=http://example.com/r", "unsupported URI scheme \"http:\""},
      {"not a URI", "v=TLSRPTv1; rua=reports@example.com", "is not a URI"},
      {"mailto without an address", "v=TLSRPTv1; rua=mailto:example.com", "names no mail address"},
      {"mailto without a domain", "v=TLSRPTv1; rua=mailto:a@", "names no mail address"},
      {"https without a host", "v=TLSRPTv1; rua=https:///path", "names no host"},
      {"https without //", "v=TLSRPTv1; rua=https:example.com", "names no host"},
      {"a second rua", "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com", "a second rua= field"},
      {"bad extension name", "v=TLSRPTv1; rua=mailto:a@example.com; _x=1", "is not a field name"},
      {"extension name too long", "v=TLSRPTv1; rua=mailto:a@b; " + std::string(33, 'a') + "=1", "is not a field name"},
      {"'=' in an extension value", "v=TLSRPTv1; rua=mailto:a@example.com; x=a=b", "'=' at offset"},
      {"empty extension value", "v=TLSRPTv1; rua=mailto:a@example.com; x=", "empty value"},
      {"extension without =", "v=TLSRPTv1; rua=mailto:a@example.com; x", "is not name=value"},
      {"control character", "v=TLSRPTv1; rua=mailto:a@example.com\r\n", "byte 0x0d at offset"},
      {"non-ASCII", "v=TLSRPTv1; rua=mailto:\xc3\xa9@example.com", "byte 0xc3"},
      {"too long", "v=TLSRPTv1; rua=mailto:a@example.com; x=" + std::string(5000, 'a'), "more than 4096"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    const auto r = parse_record(c.text);
    ASSERT_FALSE(r) << "parsed: " << c.text;
    EXPECT_EQ(r.error().code, Errc::Malformed);
    EXPECT_EQ(r.error().fault, Fault::Peer);
    EXPECT_NE(r.error().detail.find(c.error), std::string::npos) << r.error().detail;
  }
}

TEST(TlsrptRecord, SelectsTheOneVersion1Record) {
  const std::string good = "v=TLSRPTv1; rua=mailto:a@example.com";
  auto r = select_record({"v=spf1 -all", good, "something else"});
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(*r, good);
  // A record that only looks like one ("v=TLSRPTv10") is discarded; one with a white space
  // before ';' is not.
  r = select_record({"v=TLSRPTv10; rua=mailto:x@y", "v=TLSRPTv1 ; rua=mailto:x@y"});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "v=TLSRPTv1 ; rua=mailto:x@y");
  // A bare "v=TLSRPTv1" is selected, then fails to parse (no rua).
  EXPECT_TRUE(select_record({"v=TLSRPTv1"}));

  const struct {
    const char* label;
    std::vector<std::string> texts;
    const char* error;
  } bad[] = {
      {"none", {}, "no TXT record"},
      {"only others", {"v=spf1 -all"}, "none of the 1 TXT record begins with v=TLSRPTv1"},
      {"two", {good, "v=TLSRPTv1;rua=mailto:b@example.com"}, "2 records begin with v=TLSRPTv1"},
  };
  for (const auto& c : bad) {
    SCOPED_TRACE(c.label);
    const auto s = select_record(c.texts);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().detail.find(c.error), std::string::npos) << s.error().detail;
  }
}
}  // namespace
}  // namespace ostls::report
