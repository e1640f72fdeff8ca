#include "proxy/proxy_protocol.hpp"

#include <arpa/inet.h>

#include <array>

#include <fmt/format.h>

namespace ostls::proxy {
namespace {

constexpr std::string_view signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::uint8_t version_proxy = 0x21, version_local = 0x20;
constexpr std::uint8_t family_tcp4 = 0x11, family_tcp6 = 0x21, family_unspec = 0x00;
constexpr std::uint8_t pp2_type_ssl = 0x20, pp2_subtype_ssl_version = 0x21, pp2_subtype_ssl_cipher = 0x23;
constexpr std::uint8_t pp2_client_ssl = 0x01;

void put16(std::string& out, std::size_t v) {
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}

std::uint16_t get16(std::string_view s, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(s[at]) << 8) | static_cast<unsigned char>(s[at + 1]));
}

void put_tlv(std::string& out, std::uint8_t type, std::string_view value) {
  out += static_cast<char>(type);
  put16(out, value.size());
  out += value;
}

unexpected<Error> malformed(std::string detail) {
  return fail(Errc::Malformed, Fault::Peer, fmt::format("PROXY v2 header: {}", detail));
}

// Binary address of `text` in `family` (AF_INET/AF_INET6); empty when it is not one.
std::string address_bytes(int family, const std::string& text) {
  std::array<unsigned char, 16> buf{};
  if (inet_pton(family, text.c_str(), buf.data()) != 1) return {};
  return std::string(reinterpret_cast<const char*>(buf.data()), family == AF_INET ? 4 : 16);
}

std::string address_text(int family, std::string_view bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

Result<ProxyHeader::Tls> decode_ssl(std::string_view v) {
  if (v.size() < 5) return malformed("PP2_TYPE_SSL shorter than its 5 fixed bytes");
  ProxyHeader::Tls tls;
  std::size_t at = 5;
  while (at < v.size()) {
    if (v.size() - at < 3) return malformed("truncated sub-TLV in PP2_TYPE_SSL");
    const auto type = static_cast<unsigned char>(v[at]);
    const auto len = get16(v, at + 1);
    if (v.size() - at - 3 < len) return malformed("a sub-TLV of PP2_TYPE_SSL overruns it");
    const auto value = v.substr(at + 3, len);
    if (type == pp2_subtype_ssl_version) tls.version = std::string(value);
    if (type == pp2_subtype_ssl_cipher) tls.cipher = std::string(value);
    at += 3 + len;
  }
  return tls;
}

}  // namespace

Result<std::string> encode_v2(const ProxyHeader& h) {
  std::string body;
  std::uint8_t family = family_unspec;
  if (!h.local) {
    const bool v6 = h.source.find(':') != std::string::npos;
    const int af = v6 ? AF_INET6 : AF_INET;
    const auto src = address_bytes(af, h.source), dst = address_bytes(af, h.destination);
    if (src.empty() || dst.empty()) {
      return fail(Errc::Usage, Fault::Local,
                  fmt::format("PROXY v2: \"{}\" and \"{}\" are not IP addresses of one family", h.source, h.destination));
    }
    family = v6 ? family_tcp6 : family_tcp4;
    body = src + dst;
    put16(body, h.source_port);
    put16(body, h.destination_port);
    if (h.tls) {
      std::string ssl;
      ssl += static_cast<char>(pp2_client_ssl);
      ssl += std::string("\0\0\0\1", 4);  // verify: non-zero, no client certificate was verified
      put_tlv(ssl, pp2_subtype_ssl_version, h.tls->version);
      put_tlv(ssl, pp2_subtype_ssl_cipher, h.tls->cipher);
      put_tlv(body, pp2_type_ssl, ssl);
    }
  }
  std::string out(signature);
  out += static_cast<char>(h.local ? version_local : version_proxy);
  out += static_cast<char>(family);
  put16(out, body.size());
  return out + body;
}

Result<ProxyHeader> decode_v2(std::string_view b, std::size_t& consumed) {
  consumed = 0;
  if (b.size() < 16) {
    if (!signature.starts_with(b.substr(0, std::min(b.size(), signature.size())))) return malformed("bad signature");
    return fail(Errc::Closed, Fault::Peer, "PROXY v2 header: more bytes needed");
  }
  if (b.substr(0, 12) != signature) return malformed("bad signature");
  const auto ver_cmd = static_cast<unsigned char>(b[12]);
  if ((ver_cmd & 0xf0) != 0x20) return malformed(fmt::format("version {} (want 2)", ver_cmd >> 4));
  const auto command = ver_cmd & 0x0f;
  if (command > 1) return malformed(fmt::format("unknown command {}", command));
  const auto family = static_cast<unsigned char>(b[13]);
  const auto len = get16(b, 14);
  if (b.size() - 16 < len) return fail(Errc::Closed, Fault::Peer, "PROXY v2 header: more bytes needed");
  const auto body = b.substr(16, len);
  consumed = 16 + len;
  ProxyHeader h;
  h.local = command == 0;
  if (h.local) return h;  // LOCAL: the addresses (if any) are to be ignored
  std::size_t addr_len = 0;
  int af = 0;
  if (family == family_tcp4) {
    af = AF_INET;
    addr_len = 12;
  } else if (family == family_tcp6) {
    af = AF_INET6;
    addr_len = 36;
  } else {
    return malformed(fmt::format("address family/protocol 0x{:02x} (want TCP over IPv4 or IPv6)", family));
  }
  if (body.size() < addr_len) return malformed(fmt::format("{} bytes of addresses, want {}", body.size(), addr_len));
  const std::size_t a = af == AF_INET ? 4 : 16;
  h.source = address_text(af, body.substr(0, a));
  h.destination = address_text(af, body.substr(a, a));
  h.source_port = get16(body, 2 * a);
  h.destination_port = get16(body, 2 * a + 2);
  std::size_t at = addr_len;
  while (at < body.size()) {
    if (body.size() - at < 3) return malformed("truncated TLV");
    const auto type = static_cast<unsigned char>(body[at]);
    const auto tlv_len = get16(body, at + 1);
    if (body.size() - at - 3 < tlv_len) return malformed(fmt::format("TLV 0x{:02x} overruns the header", type));
    const auto value = body.substr(at + 3, tlv_len);
    if (type == pp2_type_ssl && !value.empty() && (static_cast<unsigned char>(value[0]) & pp2_client_ssl)) {
      auto tls = decode_ssl(value);
      if (!tls) return unexpected<Error>(tls.error());
      h.tls = std::move(*tls);
    }
    at += 3 + tlv_len;
  }
  return h;
}

}  // namespace ostls::proxy
