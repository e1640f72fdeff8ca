// MTA-STS policy retrieval (mtasts/fetch.hpp), the parts that need no policy server: the URL,
// the media-type rule of RFC 8461 §3.3, and failures classified as sts-policy-fetch-error
// before and after a connection is attempted. The transfers themselves (PKIX, redirects, size,
// content type against a real nginx) are tests/lab/test_mtasts.py's.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "mtasts/fetch.hpp"

namespace ostls::mtasts {
namespace {

TEST(MtaStsFetch, PolicyUrl) {
  EXPECT_EQ(policy_host("example.com"), "mta-sts.example.com");
  EXPECT_EQ(policy_url("example.com", 443), "https://mta-sts.example.com/.well-known/mta-sts.txt");
  EXPECT_EQ(policy_url("example.com", 8443), "https://mta-sts.example.com:8443/.well-known/mta-sts.txt");
}

TEST(MtaStsFetch, MediaTypeIsTextPlainWithAnyParameters) {
  for (const char* ok : {"text/plain", "TEXT/Plain", "text/plain; charset=utf-8", " text/plain ;charset=us-ascii"}) {
    EXPECT_TRUE(is_text_plain(ok)) << ok;
  }
  for (const char* bad : {"", "text/html", "text/plainx", "text/plain-x", "application/octet-stream", "text/",
                          "text/ plain", "plain"}) {
    EXPECT_FALSE(is_text_plain(bad)) << bad;
  }
}

TEST(MtaStsFetch, NoAddressesIsAFetchError) {
  const auto r = fetch_blocking({.domain = "example.com", .addresses = {}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().type, ResultType::StsPolicyFetchError);
  EXPECT_NE(r.error().detail.find("mta-sts.example.com has no addresses"), std::string::npos) << r.error().detail;
}

TEST(MtaStsFetch, RefusedConnectionIsAFetchErrorNamingTheUrl) {
  // A loopback port that was free a moment ago: bound, then closed, so nothing listens.
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(s);
  const auto port = ntohs(a.sin_port);
  const auto r = fetch_blocking({.domain = "example.com", .addresses = {"127.0.0.1"}, .port = port,
                                 .timeout = std::chrono::milliseconds(5000)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().type, ResultType::StsPolicyFetchError);
  EXPECT_NE(r.error().detail.find(policy_url("example.com", port)), std::string::npos) << r.error().detail;
}

}  // namespace
}  // namespace ostls::mtasts
