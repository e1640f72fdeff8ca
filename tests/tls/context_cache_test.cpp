// tls::ClientContextCache: one SSL_CTX per distinct set of client parameters, the same one for
// every later request with equal parameters, and an error (nothing cached) for bad ones.
#include <gtest/gtest.h>

#include "tls/context.hpp"

namespace ostls::tls {
namespace {

TEST(ClientContextCache, OneContextPerDistinctParameters) {
  ClientContextCache cache;
  auto may = cache.get({.authenticated = false});
  auto verify = cache.get({.authenticated = true});
  auto may_again = cache.get({.authenticated = false});
  auto dane = cache.get({.authenticated = true, .dane = true});
  auto narrowed = cache.get({.authenticated = true,
                             .protocols = policy::TlsRange{policy::TlsVersion::Tls1_3, policy::TlsVersion::Tls1_3}});
  ASSERT_TRUE(may && verify && may_again && dane && narrowed);
  EXPECT_EQ(*may, *may_again);
  EXPECT_NE(*may, *verify);
  EXPECT_NE(*verify, *dane);
  EXPECT_NE(*verify, *narrowed);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(*narrowed), TLS1_3_VERSION);
  EXPECT_EQ(cache.size(), 4u);
  auto bad = cache.get({.cipher_grade = "strong"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::Usage);
  EXPECT_EQ(cache.size(), 4u);
}

}  // namespace
}  // namespace ostls::tls
