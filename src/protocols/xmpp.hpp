// XMPP STARTTLS client, c2s and s2s (RFC 6120 §5.4): stream header (to = the XMPP domain) →
// <stream:features> with <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'> (and maybe
// <required/>) → <starttls/> → <proceed/> → [TLS] → a new stream and its features (§5.4.3.3:
// pre-TLS features are discarded) → </stream:stream>. <failure/> refuses; the server then closes
// the stream. Implicit TLS (xmpps, XEP-0368 direct TLS): TLS first.
// XML is parsed by expat, fed incrementally and bounded (bytes, depth); DTDs are refused
// (RFC 6120 §11.1). Bytes after <proceed/> in the same read are injection: discarded and recorded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"

namespace ostls::xmpp {

inline constexpr std::string_view ns_tls = "urn:ietf:params:xml:ns:xmpp-tls";
inline constexpr std::string_view ns_streams = "http://etherx.jabber.org/streams";

struct ClientParams {
  std::string domain;               // the stream's `to`
  bool server_to_server = false;    // jabber:server instead of jabber:client
  bool implicit_tls = false;
  proto::Upgrade upgrade = proto::Upgrade::IfOffered;
  Limits limits;
};

[[nodiscard]] std::string stream_header(const ClientParams& p);

class Client {
public:
  explicit Client(ClientParams params);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  [[nodiscard]] proto::Step start();
  [[nodiscard]] proto::Step on_bytes(std::string_view bytes);
  [[nodiscard]] proto::Step on_tls_established();
  [[nodiscard]] const proto::Facts& facts() const { return facts_; }

  struct Parser;  // expat state, one per stream (RFC 6120 §4.3.3: TLS restarts the stream)

private:
  enum class State : std::uint8_t { Features, Starttls, FeaturesTls, Done };
  proto::Step after_features();
  proto::Step fail(Errc code, std::string detail);
  proto::Step read_more() const;

  ClientParams params_;
  State state_ = State::Features;
  std::unique_ptr<Parser> parser_;
  std::size_t fed_ = 0;  // bytes fed to the current stream's parser
  proto::Facts facts_;
};

}  // namespace ostls::xmpp
