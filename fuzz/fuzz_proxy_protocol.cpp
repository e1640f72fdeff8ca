// Fuzzes the PROXY protocol v2 decoder (proxy/proxy_protocol.hpp) — ostls writes these headers,
// and a header is read back in tests; a backend or a test harness may feed it anything.
// Properties beyond "no crash": a decoded header consumes no more than the input; a decoded
// PROXY (not LOCAL) header encodes again to bytes that decode to the same addresses and TLS facts.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/proxy_protocol.hpp"

namespace {

void require(bool property) {
  if (!property) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::size_t used = 0;
  const auto h = ostls::proxy::decode_v2(bytes, used);
  if (!h) {
    require(h.error().code == ostls::Errc::Malformed || h.error().code == ostls::Errc::Closed);
    return 0;
  }
  require(used >= 16 && used <= size);
  if (h->local) return 0;
  const auto again = ostls::proxy::encode_v2(*h);
  require(again.has_value());
  std::size_t used2 = 0;
  const auto h2 = ostls::proxy::decode_v2(*again, used2);
  require(h2 && used2 == again->size());
  require(h2->source == h->source && h2->destination == h->destination && h2->source_port == h->source_port &&
          h2->destination_port == h->destination_port && h2->tls.has_value() == h->tls.has_value());
  if (h->tls) require(h2->tls->version == h->tls->version && h2->tls->cipher == h->tls->cipher);
  return 0;
}
