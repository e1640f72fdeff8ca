// Client TLS contexts per policy (R5, R6): TLS 1.3 and (EC)DHE first; authenticated levels get
// TLS >= 1.2 with AEAD + forward secrecy only; unauthenticated levels are liberal (TLS 1.0+,
// OpenSSL security level 0) so legacy peers get encryption rather than cleartext.
// Trust anchors: --cafile/--capath, else the system's hashed certificate directory, which
// OpenSSL reads lazily (only the issuers a chain needs), so no level pays for loading the whole
// bundle. Chain verification always runs and is recorded; whether it is enforced is policy's job.
// Server contexts (the server role, net/serve.hpp): one certificate chain and key; TLS 1.2+ with
// the same AEAD + (EC)DHE list, server preference. Does not: session resumption (server side),
// SNI switching. Client contexts resume only SSLs armed with a tls::SessionCache (tls/resume.hpp).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "policy/tls_versions.hpp"
#include "tls/ossl.hpp"

namespace ostls::tls {

struct ClientParams {
  bool authenticated = false;                  // R6 floor: TLS >= 1.2, AEAD + PFS
  std::optional<policy::TlsRange> protocols;   // narrows the range further
  std::optional<std::string> cipher_grade;     // Postfix grade for unauthenticated levels
  std::string cafile, capath;                  // empty: the system default directory
  bool dane = false;                           // SSL_CTX_dane_enable (per-connection TLSA later)

  friend bool operator==(const ClientParams&, const ClientParams&) = default;
};

[[nodiscard]] Result<SslCtxPtr> client_context(const ClientParams& params);

// One client context per distinct ClientParams, made on first use and shared by every
// connection after it (scan and proxy: thousands of connections, a handful of policies). A
// context holds no per-connection state here — SNI, DANE records and verification results live
// on the SSL — and reading the trust store once per context instead of once per connection is
// most of the CPU saved. Thread-safe: the proxy's worker loops share one (SSL_new on a shared
// SSL_CTX is safe in OpenSSL 3).
class ClientContextCache {
public:
  [[nodiscard]] Result<SSL_CTX*> get(const ClientParams& params);
  [[nodiscard]] std::size_t size() const;

private:
  mutable std::mutex mutex_;
  std::vector<std::pair<ClientParams, SslCtxPtr>> contexts_;
};

struct SessionParams {
  std::string sni;  // empty or an IP literal: no SNI sent
};

// A new client SSL for one connection (SNI set when `sni` is a host name).
[[nodiscard]] Result<SslPtr> client_session(SSL_CTX* ctx, const SessionParams& params);

struct ServerParams {
  std::string cert_file;  // PEM: the leaf first, then its chain
  std::string key_file;   // PEM private key
};

[[nodiscard]] Result<SslCtxPtr> server_context(const ServerParams& params);

// The last OpenSSL error queue entries as one line (and clears the queue).
[[nodiscard]] std::string last_error();

}  // namespace ostls::tls
