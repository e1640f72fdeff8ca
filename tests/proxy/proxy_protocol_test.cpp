// PROXY protocol v2 (proxy/proxy_protocol.hpp): the exact bytes of a header, the round trip
// with the TLS TLV, and malformed headers refused.
#include <gtest/gtest.h>

#include "proxy/proxy_protocol.hpp"

namespace ostls::proxy {
namespace {

TEST(ProxyProtocol, Ipv4HeaderBytes) {
  auto h = encode_v2({.source = "192.0.2.7", .destination = "198.51.100.1", .source_port = 40000, .destination_port = 25});
  ASSERT_TRUE(h) << h.error().detail;
  const std::string want = std::string("\r\n\r\n\0\r\nQUIT\n", 12) + "\x21\x11" + std::string("\x00\x0c", 2) +
                           std::string("\xc0\x00\x02\x07", 4) + "\xc6\x33\x64\x01" + "\x9c\x40" + std::string("\x00\x19", 2);
  EXPECT_EQ(*h, want);
}

TEST(ProxyProtocol, RoundTripWithTls) {
  const ProxyHeader in{.source = "2001:db8::7", .destination = "2001:db8::1", .source_port = 1, .destination_port = 993,
                       .tls = ProxyHeader::Tls{"TLSv1.3", "TLS_AES_256_GCM_SHA384"}};
  auto bytes = encode_v2(in);
  ASSERT_TRUE(bytes);
  std::size_t used = 0;
  auto out = decode_v2(*bytes + "* OK", used);
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ(used, bytes->size());
  EXPECT_EQ(out->source, "2001:db8::7");
  EXPECT_EQ(out->destination_port, 993);
  ASSERT_TRUE(out->tls);
  EXPECT_EQ(out->tls->version, "TLSv1.3");
  EXPECT_EQ(out->tls->cipher, "TLS_AES_256_GCM_SHA384");
}

TEST(ProxyProtocol, Refusals) {
  EXPECT_FALSE(encode_v2({.source = "192.0.2.1", .destination = "2001:db8::1"}));
  EXPECT_FALSE(encode_v2({.source = "host", .destination = "192.0.2.1"}));
  std::size_t used = 0;
  auto good = *encode_v2({.source = "192.0.2.1", .destination = "192.0.2.2", .source_port = 1, .destination_port = 2});
  EXPECT_EQ(decode_v2(good.substr(0, 10), used).error().code, Errc::Closed);  // more bytes needed
  EXPECT_EQ(decode_v2("PROXY TCP4 …", used).error().code, Errc::Malformed);     // v1, not v2
  auto bad_version = good;
  bad_version[12] = '\x11';
  EXPECT_EQ(decode_v2(bad_version, used).error().code, Errc::Malformed);
  auto short_addresses = good;
  short_addresses[15] = '\x04';
  EXPECT_EQ(decode_v2(short_addresses.substr(0, 20), used).error().code, Errc::Malformed);
  auto overrun = good;
  overrun[15] = '\x0f';  // 3 bytes of TLV after the addresses, declaring more than there is
  overrun += std::string("\x20\x00\x09", 3);
  EXPECT_EQ(decode_v2(overrun, used).error().code, Errc::Malformed);
}

}  // namespace
}  // namespace ostls::proxy
