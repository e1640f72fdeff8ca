// MTA-STS, the pure part (RFC 8461): the `_mta-sts` TXT record and its selection (§3.1), the
// policy body (§3.2, size bound of §3.3), MX pattern matching (§4.1), the Mode name table.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "mtasts/policy.hpp"

namespace ostls::mtasts {
namespace {

using namespace std::string_literals;

// ---- §3.1 the TXT record ----------------------------------------------------------------

struct GoodTxt {
  const char* label;
  std::string record;
  std::string id;
  std::vector<std::string> extension_names;
};

TEST(MtaStsTxt, Accepted) {
  const GoodTxt rows[] = {
      {"RFC 8461 §3.1 example", "v=STSv1; id=20160831085700Z;", "20160831085700Z", {}},
      {"no trailing delimiter", "v=STSv1; id=20160831085700Z", "20160831085700Z", {}},
      {"no white space", "v=STSv1;id=abc", "abc", {}},
      {"white space around every delimiter", "v=STSv1 ;\tid=abc\t; ", "abc", {}},
      {"id of 32 characters", "v=STSv1; id=" + std::string(32, 'A'), std::string(32, 'A'), {}},
      {"extension before id", "v=STSv1; foo=bar; id=a1", "a1", {"foo"}},
      {"every value character", "v=STSv1; id=x; ext.name_1-x=!\"#$%&'()*+,-./:<>?@[\\]^_`{|}~", "x", {"ext.name_1-x"}},
      {"id is case-sensitive: ID is an extension", "v=STSv1; ID=x; id=y", "y", {"ID"}},
      {"a later v= is an extension (ABNF)", "v=STSv1; id=a; v=STSv2", "a", {"v"}},
      {"long extension value", "v=STSv1; id=a; x=" + std::string(60000, 'z'), "a", {"x"}},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    auto txt = parse_txt(r.record);
    ASSERT_TRUE(txt) << txt.error().detail;
    EXPECT_EQ(txt->id, r.id);
    std::vector<std::string> names;
    for (const auto& e : txt->extensions) names.push_back(e.name);
    EXPECT_EQ(names, r.extension_names);
  }
}

TEST(MtaStsTxt, ExtensionValueKept) {
  auto txt = parse_txt("v=STSv1; rua=mailto:a@example.com; id=1");
  ASSERT_TRUE(txt);
  ASSERT_EQ(txt->extensions.size(), 1u);
  EXPECT_EQ(txt->extensions[0].name, "rua");
  EXPECT_EQ(txt->extensions[0].value, "mailto:a@example.com");
}

struct BadTxt {
  const char* label;
  std::string record;
};

TEST(MtaStsTxt, Rejected) {
  const BadTxt rows[] = {
      {"empty", ""},
      {"version only", "v=STSv1"},
      {"version and delimiter only", "v=STSv1; "},
      {"upper-case V", "V=STSv1; id=abc"},
      {"lower-case version", "v=stsv1; id=abc"},
      {"STSv10", "v=STSv10; id=abc"},
      {"leading white space", " v=STSv1; id=abc"},
      {"no delimiter after the version", "v=STSv1 id=abc"},
      {"white space without a delimiter", "v=STSv1; id=abc def"},
      {"trailing white space without a delimiter", "v=STSv1; id=abc "},
      {"empty id", "v=STSv1; id="},
      {"id of 33 characters", "v=STSv1; id=" + std::string(33, 'a')},
      {"id with a hyphen", "v=STSv1; id=abc-def"},
      {"id twice", "v=STSv1; id=a; id=b"},
      {"no id", "v=STSv1; foo=bar"},
      {"empty field", "v=STSv1;; id=a"},
      {"two trailing delimiters", "v=STSv1; id=a;;"},
      {"empty extension value", "v=STSv1; foo=; id=a"},
      {"= in an extension value", "v=STSv1; foo=a=b; id=a"},
      {"extension name starting with _", "v=STSv1; _foo=a; id=a"},
      {"extension name of 33 characters", "v=STSv1; " + std::string(33, 'n') + "=x; id=a"},
      {"space before =", "v=STSv1; id =abc"},
      {"NUL", "v=STSv1; id=a\0"s},
      {"NUL inside", "v=STSv1; id=a\0b"s},
      {"non-ASCII value", "v=STSv1; id=a; foo=\xc3\xa9"},
      {"CRLF at the end", "v=STSv1; id=abc\r\n"},
      {"longer than any TXT RDATA", "v=STSv1; id=a; x=" + std::string(70000, 'z')},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    auto txt = parse_txt(r.record);
    ASSERT_FALSE(txt) << "id " << txt->id;
    EXPECT_EQ(txt.error().code, Errc::Malformed);
    EXPECT_EQ(txt.error().fault, Fault::Peer);
    EXPECT_FALSE(txt.error().detail.empty());
    EXPECT_LT(txt.error().detail.size(), 200u) << "hostile input is not echoed in full";
  }
}

TEST(MtaStsTxt, ErrorDetailsEscapeInput) {
  auto txt = parse_txt("v=STSv1; id=a\0\r\nX-Injected: 1"s);
  ASSERT_FALSE(txt);
  EXPECT_EQ(txt.error().detail.find_first_of("\r\n"s + '\0'), std::string::npos) << txt.error().detail;
}

// ---- §3.1 choosing the record among every TXT record of _mta-sts.<domain> --------------------

enum class Pick { Found, NoRecord, Error };

struct SelectRow {
  const char* label;
  std::vector<std::string> records;
  Pick expect;
  std::string id;
};

TEST(MtaStsTxt, Select) {
  const SelectRow rows[] = {
      {"no TXT record", {}, Pick::NoRecord, ""},
      {"only other TXT records", {"v=spf1 -all", "google-site-verification=x"}, Pick::NoRecord, ""},
      {"v=STSv1 without ; is discarded", {"v=STSv1 id=a"}, Pick::NoRecord, ""},
      {"v=STSv1 alone is discarded", {"v=STSv1"}, Pick::NoRecord, ""},
      {"STSv10 is another version", {"v=STSv10; id=a"}, Pick::NoRecord, ""},
      {"upper-case V is not STSv1", {"V=STSv1; id=a"}, Pick::NoRecord, ""},
      {"one STSv1 among others", {"v=spf1 -all", "v=STSv1; id=a", "x"}, Pick::Found, "a"},
      {"white space before ; (errata 6285)", {"v=STSv1 ; id=a"}, Pick::Found, "a"},
      {"two STSv1 records", {"v=STSv1; id=a", "v=STSv1; id=b"}, Pick::Error, ""},
      {"two identical STSv1 records", {"v=STSv1; id=a", "v=STSv1; id=a"}, Pick::Error, ""},
      {"a malformed second STSv1 record counts", {"v=STSv1; id=a", "v=STSv1;junk"}, Pick::Error, ""},
      {"the one STSv1 record is malformed", {"v=STSv1; id=bad-id"}, Pick::Error, ""},
      {"the one STSv1 record has no id", {"v=STSv1;"}, Pick::Error, ""},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    auto picked = select_txt(r.records);
    switch (r.expect) {
      case Pick::Found:
        ASSERT_TRUE(picked) << picked.error().detail;
        ASSERT_TRUE(picked->has_value());
        EXPECT_EQ((*picked)->id, r.id);
        break;
      case Pick::NoRecord:
        ASSERT_TRUE(picked) << picked.error().detail;
        EXPECT_FALSE(picked->has_value());
        break;
      case Pick::Error:
        ASSERT_FALSE(picked);
        EXPECT_EQ(picked.error().fault, Fault::Peer);
        EXPECT_FALSE(picked.error().detail.empty());
        break;
    }
  }
}

TEST(MtaStsTxt, SelectSaysWhy) {
  auto several = select_txt(std::vector<std::string>{"v=STSv1; id=a", "v=STSv1; id=b"});
  ASSERT_FALSE(several);
  EXPECT_NE(several.error().detail.find("2 TXT records"), std::string::npos) << several.error().detail;
  auto bad = select_txt(std::vector<std::string>{"v=STSv1; id=toolong-" + std::string(40, 'x')});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().detail.find("id"), std::string::npos) << bad.error().detail;
}

// ---- §3.2 the policy body ---------------------------------------------------------------

constexpr const char* rfc_example =
    "version: STSv1\n"
    "mode: enforce\n"
    "mx: mail.example.com\n"
    "mx: *.example.net\n"
    "mx: backupmx.example.com\n"
    "max_age: 604800\n";

struct GoodPolicy {
  const char* label;
  std::string body;
  Mode mode;
  std::uint32_t max_age;
  std::vector<std::string> mx;
  std::size_t extensions = 0;
};

TEST(MtaStsPolicy, Accepted) {
  const std::vector<std::string> example_mx{"mail.example.com", "*.example.net", "backupmx.example.com"};
  const GoodPolicy rows[] = {
      {"RFC 8461 §3.2 example, LF", rfc_example, Mode::Enforce, 604800, example_mx},
      {"CRLF, no final terminator",
       "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
       "mx: backupmx.example.com\r\nmax_age: 604800",
       Mode::Enforce, 604800, example_mx},
      {"CRLF and LF mixed", "version: STSv1\r\nmode: testing\nmx: mx.example.org\r\nmax_age: 86400\n", Mode::Testing,
       86400, {"mx.example.org"}},
      {"mode none needs no mx", "version: STSv1\nmode: none\nmax_age: 0\n", Mode::None, 0, {}},
      {"mode none may list mx", "version: STSv1\nmode: none\nmx: a.example\nmax_age: 1\n", Mode::None, 1, {"a.example"}},
      {"max_age before mode and mx", "version: STSv1\nmax_age: 31557600\nmx: a.example\nmode: enforce", Mode::Enforce,
       31557600, {"a.example"}},
      {"no space after the colon", "version:STSv1\nmode:enforce\nmx:a.example\nmax_age:86400\n", Mode::Enforce, 86400,
       {"a.example"}},
      {"tabs after the colon and trailing white space",
       "version:\tSTSv1 \nmode: \tenforce\t\nmx: a.example  \nmax_age: 86400\t\r\n", Mode::Enforce, 86400, {"a.example"}},
      {"max_age of 10 digits with leading zeros", "version: STSv1\nmode: none\nmax_age: 0000086400\n", Mode::None, 86400,
       {}},
      {"mx in upper case, label of 63", "version: STSv1\nmode: enforce\nmx: MX1.Example.COM\nmx: " + std::string(63, 'a') +
       ".example\nmax_age: 1\n", Mode::Enforce, 1, {"MX1.Example.COM", std::string(63, 'a') + ".example"}},
      {"unknown fields are kept aside",
       "version: STSv1\nmode: enforce\nfoo: bar baz\nx-ext.1: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92\n"
       "punct: a=b;c:d\nmx: a.example\nmax_age: 5\n",
       Mode::Enforce, 5, {"a.example"}, 3},
      {"huge unknown line within the size bound",
       "version: STSv1\nmode: none\nmax_age: 9\nfoo: " + std::string(60000, 'x') + "\n", Mode::None, 9, {}, 1},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    auto p = parse_policy(r.body);
    ASSERT_TRUE(p) << p.error().detail;
    EXPECT_EQ(p->mode, r.mode);
    EXPECT_EQ(p->max_age, r.max_age);
    EXPECT_EQ(p->mx, r.mx);
    EXPECT_EQ(p->extensions.size(), r.extensions);
  }
}

TEST(MtaStsPolicy, ExactlyAtTheSizeBound) {
  std::string body = "version: STSv1\nmode: none\nmax_age: 9\nfoo: ";
  body += std::string(limits::max_policy_bytes - body.size(), 'x');
  ASSERT_EQ(body.size(), 65536u);
  EXPECT_TRUE(parse_policy(body));
  body += 'x';
  auto p = parse_policy(body);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Errc::ReplyTooLong);
  EXPECT_EQ(p.error().fault, Fault::Peer);
}

// RFC 8461 §3.2: fields in any order; a repeated field other than mx keeps its first value.
TEST(MtaStsPolicy, RepeatedFieldsKeepTheFirstValue) {
  auto p = parse_policy("mode: testing\nversion: STSv1\nmx: a.example\nmode: enforce\nmax_age: 10\nmax_age: 99\n");
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->mode, Mode::Testing);
  EXPECT_EQ(p->max_age, 10);
  // A repeat is ignored without being checked, as the RFC ignores it.
  EXPECT_TRUE(parse_policy("version: STSv1\nversion: STSv2\nmode: none\nmax_age: 1\n"));
}

TEST(MtaStsPolicy, PrintsItself) {
  auto p = parse_policy(rfc_example);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->to_string(), "mode=enforce max_age=604800 mx=mail.example.com,*.example.net,backupmx.example.com");
}

struct BadPolicy {
  const char* label;
  std::string body;
};

constexpr const char* head = "version: STSv1\nmode: enforce\nmx: a.example\n";  // + max_age line

TEST(MtaStsPolicy, Rejected) {
  const std::string ok_tail = "max_age: 86400\n";
  const BadPolicy rows[] = {
      {"empty", ""},
      {"one empty line", "\n"},
      {"blank line inside", "version: STSv1\n\nmode: none\nmax_age: 1\n"},
      {"blank line at the end", "version: STSv1\nmode: none\nmax_age: 1\n\n"},
      {"white space line at the end", "version: STSv1\nmode: none\nmax_age: 1\n \n"},
      {"no version", "mode: none\nmax_age: 1\n"},
      {"Version (field names are case-sensitive)", "Version: STSv1\nmode: none\nmax_age: 1\n"},
      {"version STSv2", "version: STSv2\nmode: none\nmax_age: 1\n"},
      {"version stsv1", "version: stsv1\nmode: none\nmax_age: 1\n"},
      {"mode Enforce", "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n"},
      {"mode enforcing", "version: STSv1\nmode: enforcing\nmx: a.example\nmax_age: 1\n"},
      {"mode empty", "version: STSv1\nmode:\nmax_age: 1\n"},
      {"no mode", "version: STSv1\nmx: a.example\nmax_age: 1\n"},
      {"no max_age", head},
      {"enforce without mx", "version: STSv1\nmode: enforce\nmax_age: 1\n"},
      {"testing without mx", "version: STSv1\nmode: testing\nmax_age: 1\n"},
      {"max_age one above the maximum", head + "max_age: 31557601\n"s},
      {"max_age of 11 digits", head + "max_age: 00000086400\n"s},
      {"max_age beyond 32 bits", head + "max_age: 9999999999\n"s},
      {"max_age negative", head + "max_age: -1\n"s},
      {"max_age with a unit", head + "max_age: 86400s\n"s},
      {"max_age empty", head + "max_age:\n"s},
      {"max_age with inner space", head + "max_age: 86 400\n"s},
      {"space before the colon", "version: STSv1\nmode : none\nmax_age: 1\n"},
      {"leading space", "version: STSv1\n mode: none\nmax_age: 1\n"},
      {"no colon", "version: STSv1\nmode none\nmax_age: 1\n"},
      {"CR without LF inside", "version: STSv1\rmode: none\nmax_age: 1\n"},
      {"CR without LF at the end", "version: STSv1\nmode: none\nmax_age: 1\r"},
      {"CR CR LF", "version: STSv1\r\r\nmode: none\nmax_age: 1\n"},
      {"NUL in a value", "version: STSv1\nmode: none\nmax_age: 1\nfoo: a\0b\n"s},
      {"NUL in a name", "version: STSv1\nmode: none\nmax_age: 1\nf\0o: a\n"s},
      {"NUL after a value", "version: STSv1\nmode: none\0\nmax_age: 1\n"s},
      {"invalid UTF-8", "version: STSv1\nmode: none\nmax_age: 1\nfoo: \xc3\x28\n"},
      {"overlong UTF-8", "version: STSv1\nmode: none\nmax_age: 1\nfoo: \xc0\xaf\n"},
      {"UTF-16 surrogate in UTF-8", "version: STSv1\nmode: none\nmax_age: 1\nfoo: \xed\xa0\x80\n"},
      {"truncated UTF-8", "version: STSv1\nmode: none\nmax_age: 1\nfoo: \xe2\x82"},
      {"tab inside an extension value", "version: STSv1\nmode: none\nmax_age: 1\nfoo: a\tb\n"},
      {"empty extension value", "version: STSv1\nmode: none\nmax_age: 1\nfoo:\n"},
      {"extension name of 33", "version: STSv1\nmode: none\nmax_age: 1\n" + std::string(33, 'n') + ": x\n"},
      {"extension name starting with _", "version: STSv1\nmode: none\nmax_age: 1\n_foo: x\n"},
      {"over 64 KiB", "version: STSv1\nmode: none\nmax_age: 1\nfoo: " + std::string(70000, 'x') + "\n"},
      {"one huge line", std::string(100000, 'v')},
      {"one huge line within the bound", std::string(60000, 'v')},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    auto p = parse_policy(r.body);
    ASSERT_FALSE(p) << p->to_string();
    EXPECT_EQ(p.error().fault, Fault::Peer);
    EXPECT_FALSE(p.error().detail.empty());
    EXPECT_LT(p.error().detail.size(), 200u) << "hostile input is not echoed in full";
  }
}

TEST(MtaStsPolicy, RejectedMxPatterns) {
  const char* patterns[] = {
      "",                      // empty
      "*",                     // wildcard alone
      "*.",                    // wildcard and nothing
      "*example.com",          // wildcard not a whole label
      "a.*.example.com",       // wildcard not leftmost
      "**.example.com",        // two stars
      "*.*.example.com",       // two wildcard labels
      "mail.example.com.",     // trailing dot (not in the ABNF)
      ".example.com",          // empty first label
      "a..example.com",        // empty label
      "-a.example.com",        // label starts with -
      "a-.example.com",        // label ends with -
      "mail_1.example.com",    // _ is not LDH
      "mail.ex\xc3\xa4mple.com",  // U-label
      "a b.example.com",       // inner space
      "[192.0.2.1]",           // address literal
  };
  for (const char* p : patterns) {
    SCOPED_TRACE(p);
    EXPECT_FALSE(parse_policy(std::string("version: STSv1\nmode: enforce\nmx: ") + p + "\nmax_age: 1\n"));
  }
  const std::string long_label = std::string(64, 'a') + ".example";
  EXPECT_FALSE(parse_policy("version: STSv1\nmode: enforce\nmx: " + long_label + "\nmax_age: 1\n"));
  std::string long_name;
  while (long_name.size() < 254) long_name += "abcdefghi.";
  long_name += "example";
  EXPECT_FALSE(parse_policy("version: STSv1\nmode: enforce\nmx: " + long_name + "\nmax_age: 1\n"));
}

TEST(MtaStsPolicy, ErrorsNameTheLine) {
  auto p = parse_policy("version: STSv1\nmode: none\nmax_age: 31557601\n");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().detail.find("line 3"), std::string::npos) << p.error().detail;
  EXPECT_NE(p.error().detail.find("31557600"), std::string::npos) << p.error().detail;
}

// ---- §4.1 MX host matching ------------------------------------------------------------------

struct MatchRow {
  const char* pattern;
  const char* host;
  bool matches;
};

TEST(MtaStsMatch, Patterns) {
  const MatchRow rows[] = {
      {"mail.example.com", "mail.example.com", true},
      {"mail.example.com", "MAIL.Example.Com", true},
      {"MAIL.EXAMPLE.COM", "mail.example.com", true},
      {"mail.example.com", "mail.example.com.", true},
      {"mail.example.com.", "mail.example.com", true},
      {"mail.example.com", "mail.example.com..", false},
      {"mail.example.com", "example.com", false},
      {"mail.example.com", "a.mail.example.com", false},
      {"mail.example.com", "mail.example.co", false},
      {"*.example.com", "mail.example.com", true},
      {"*.example.com", "MAIL.EXAMPLE.COM.", true},
      {"*.Example.COM", "x.example.com", true},
      {"*.example.com", "example.com", false},        // the wildcard is one label, not none
      {"*.example.com", "a.b.example.com", false},    // … and not two
      {"*.example.com", ".example.com", false},       // … and not an empty one
      {"*.example.com", "mailexample.com", false},
      {"*.example.com", "mail.example.com.evil", false},
      {"*.example.com", "mail.example.org", false},
      {"*.example.com", "", false},
      {"*.example.com", ".", false},
      {"example.com", "*.example.com", false},
      {"", "", false},
      {"", ".", false},
      {".", ".", false},
      {"*.", "a.", false},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.pattern) + " vs " + r.host);
    EXPECT_EQ(mx_matches(r.pattern, r.host), r.matches);
  }
}

TEST(MtaStsMatch, PolicyPermits) {
  auto p = parse_policy(rfc_example);
  ASSERT_TRUE(p);
  EXPECT_EQ(matching_pattern(*p, "mail.example.com"), std::optional<std::string_view>("mail.example.com"));
  EXPECT_EQ(matching_pattern(*p, "MX1.example.net."), std::optional<std::string_view>("*.example.net"));
  EXPECT_EQ(matching_pattern(*p, "backupmx.example.com"), std::optional<std::string_view>("backupmx.example.com"));
  EXPECT_EQ(matching_pattern(*p, "example.net"), std::nullopt);
  EXPECT_EQ(matching_pattern(*p, "a.b.example.net"), std::nullopt);
  EXPECT_TRUE(permits(*p, "mail.example.com"));
  EXPECT_FALSE(permits(*p, "evil.example.org"));
  auto none = parse_policy("version: STSv1\nmode: none\nmax_age: 1\n");
  ASSERT_TRUE(none);
  EXPECT_FALSE(permits(*none, "mail.example.com")) << "no pattern, no match; the mode is the caller's";
}

// ---- the Mode vocabulary ----------------------------------------------------------------------

TEST(MtaStsMode, NamesRoundTrip) {
  for (auto m : {Mode::Enforce, Mode::Testing, Mode::None}) {
    EXPECT_EQ(parse_mode(name(m)), m);
  }
  EXPECT_EQ(name(Mode::Enforce), "enforce");
  EXPECT_EQ(parse_mode("Enforce"), std::nullopt);
  EXPECT_EQ(parse_mode(""), std::nullopt);
}

}  // namespace
}  // namespace ostls::mtasts
