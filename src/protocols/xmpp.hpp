// XMPP STARTTLS client, c2s and s2s (RFC 6120 §5.4): stream header (to = the XMPP domain) →
// <stream:features> with <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'> (and maybe
// <required/>) → <starttls/> → <proceed/> → [TLS] → a new stream and its features (§5.4.3.3:
// pre-TLS features are discarded) → </stream:stream>. <failure/> refuses; the server then closes
// the stream. Implicit TLS (xmpps, XEP-0368 direct TLS): TLS first.
// XML is parsed by expat, fed incrementally and bounded (bytes, depth); DTDs are refused
// (RFC 6120 §11.1). Bytes after <proceed/> in the same read are injection: discarded and recorded.
// Server (in front of a plaintext backend, c2s or s2s): the client's stream header relayed →
// the backend's header and <stream:features> relayed with <starttls/> inserted as the first
// feature (<required/> inside it with require_tls) → <starttls/> answered <proceed/> here →
// [TLS] → the backend's stream cannot restart, so a fresh backend connection (ConnectBackend)
// takes the client's new stream header → relay (§5.4.3.3: the post-TLS features are the
// backend's own). Any other first element continues in cleartext, or with require_tls gets a
// <policy-violation/> stream error. Client bytes behind <starttls/> in the same read are
// discarded and recorded (command-injection, R10). Does not: interpret SASL, dialback or
// stanzas; strip the backend's other features under require_tls (RFC 6120 §5.3.1 SHOULD NOT).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "protocols/protocol.hpp"
#include "protocols/server.hpp"

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

struct ServerParams {
  bool server_to_server = false;  // s2s (xmpp-server): the client's stream must be jabber:server
  proto::ServerParams common;
};

class Server {
public:
  explicit Server(ServerParams params);
  ~Server();
  Server(Server&&) noexcept;
  Server& operator=(Server&&) noexcept;

  [[nodiscard]] proto::Action start();  // the client speaks first (RFC 6120 §4.2)
  [[nodiscard]] proto::Action on_client_bytes(std::string_view bytes);
  [[nodiscard]] proto::Action on_backend_bytes(std::string_view bytes);
  [[nodiscard]] proto::Action on_tls_established();
  [[nodiscard]] proto::Action on_backend_connected();  // the fresh backend after TLS

  [[nodiscard]] const proto::ServerFacts& facts() const { return facts_; }

  struct Reader;  // expat state of one side's pre-TLS stream (bounded)

private:
  enum class State : std::uint8_t { ClientHeader, BackendFeatures, ClientElement, Upgrading, Reconnecting, Done };

  proto::Action after_features();
  proto::Action decide();  // on the client's first element, once the features are relayed
  proto::Action client_fault(Errc code, std::string_view condition, std::string detail);
  proto::Action backend_fault(Errc code, std::string detail);
  [[nodiscard]] std::string features_with_starttls() const;

  ServerParams params_;
  State state_ = State::ClientHeader;
  std::unique_ptr<Reader> client_, backend_;
  std::string client_bytes_;   // the client's pre-TLS stream so far (bounded)
  std::size_t forwarded_ = 0;  // of client_bytes_, already written to the backend
  std::string backend_bytes_;  // the backend's header and features, held until the features end
  proto::ServerFacts facts_;
};

}  // namespace ostls::xmpp
