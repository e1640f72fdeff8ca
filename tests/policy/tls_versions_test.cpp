// Postfix smtp_tls_protocols syntax (postconf(5)) → OpenSSL version range.
#include <gtest/gtest.h>

#include "policy/tls_versions.hpp"

namespace ostls::policy {
namespace {

struct Row {
  std::string_view text;
  bool ok;
  TlsVersion min = TlsVersion::Tls1_0, max = TlsVersion::Tls1_3;
};
const Row rows[] = {
    {"!SSLv2, !SSLv3", true},
    {"!SSLv2:!SSLv3:!TLSv1:!TLSv1.1", true, TlsVersion::Tls1_2},
    {">=TLSv1.2", true, TlsVersion::Tls1_2},
    {"<=TLSv1.2", true, TlsVersion::Tls1_0, TlsVersion::Tls1_2},
    {">=TLSv1.1 <=TLSv1.2", true, TlsVersion::Tls1_1, TlsVersion::Tls1_2},
    {"TLSv1.3", true, TlsVersion::Tls1_3, TlsVersion::Tls1_3},
    {"TLSv1.2 TLSv1.3", true, TlsVersion::Tls1_2},
    {"!TLSv1.3", true, TlsVersion::Tls1_0, TlsVersion::Tls1_2},
    {"", true},
    {"!TLSv1.1", false},          // a hole would re-admit TLSv1.1 in OpenSSL's range
    {"TLSv1 TLSv1.3", false},     // hole
    {"SSLv3", false},             // never supported
    {"TLSv9", false},
    {"!TLSv1 !TLSv1.1 !TLSv1.2 !TLSv1.3", false},  // nothing left
    {">=TLSv1.3 <=TLSv1.2", false},
};

TEST(TlsVersions, ParsePostfixProtocols) {
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.text));
    auto range = parse_protocols(r.text);
    ASSERT_EQ(range.has_value(), r.ok) << (range ? "" : range.error().detail);
    if (!r.ok) {
      EXPECT_EQ(range.error().fault, Fault::Config);
      continue;
    }
    EXPECT_EQ(range->min, r.min);
    EXPECT_EQ(range->max, r.max);
  }
}

TEST(TlsVersions, Names) {
  EXPECT_EQ(name(TlsVersion::Tls1_0), "TLSv1");
  EXPECT_EQ(name(TlsVersion::Tls1_3), "TLSv1.3");
}

}  // namespace
}  // namespace ostls::policy
