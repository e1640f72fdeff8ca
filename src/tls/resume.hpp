// TLS session resumption toward repeat destinations (the proxy's client mode): a resumed
// handshake costs the client no certificate verification and the server no signature, which
// is most of a full handshake's CPU on both sides.
//
// A session is offered only under the key it was made under, and the key names everything
// the authentication of a session depends on (address, port, SNI, the client context — hence
// trust anchors, protocol range and ciphers —, the level, the reference identifiers and the
// usable TLSA records). A resumed session carries the verification of the handshake that
// created it (OpenSSL keeps the peer's certificate and verification result in the session);
// DANE's match, which OpenSSL does not keep, is kept here beside the session. So a resumed
// session is reported with the same facts as the full handshake it continues — never more —
// and TlsFacts::resumed says it was one. A session is offered again until it expires, TLS 1.3
// tickets included: RFC 8446 §C.4 asks clients not to reuse a ticket so that connections cannot
// be linked, which protects nothing for a relay that connects from one address to one server
// again and again, and servers such as Postfix issue no new ticket on a resumed connection (so
// single use would make every second handshake a full one). No early data is ever sent, so a
// reused ticket replays nothing.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <openssl/ssl.h>

#include "core/outcome.hpp"

namespace ostls::tls {

// On every client context (tls/context.hpp): sessions the server issues reach the SessionCache
// an SSL was armed with; SSLs never armed keep none.
void enable_client_resumption(SSL_CTX* ctx);

// Thread-safe; bounded by `capacity` keys (the least recently used key goes first) and
// `per_key` sessions under one key. It must outlive every SSL armed with it.
class SessionCache {
public:
  explicit SessionCache(std::size_t capacity = 10000, std::size_t per_key = 4);
  ~SessionCache();
  SessionCache(const SessionCache&) = delete;
  SessionCache& operator=(const SessionCache&) = delete;

  // Before the handshake of `ssl` (made from a context with enable_client_resumption): offers
  // a session filed under `key`, if one is still resumable, and files the sessions this
  // connection receives under `key`. Returns whether a session was offered.
  bool arm(SSL* ssl, std::string key);

  // After the handshake of an armed SSL that resumed: the DANE facts of the full handshake the
  // session came from (nullopt when that one had no DANE).
  [[nodiscard]] static std::optional<DaneFacts> inherited_dane(SSL* ssl);

  struct Stats {
    std::uint64_t offered = 0, stored = 0;
    std::size_t keys = 0;
  };
  [[nodiscard]] Stats stats() const;

  // After a connection of an armed SSL ended cleanly (no error, the peer closed): OpenSSL drops
  // the sessions of a connection that did not send close_notify (SSL_free: "bad session"), a
  // TLS 1.0 rule that RFC 5246 §7.2.1 lifted and TLS 1.3 never had. A relay ends when one side
  // closes and does not send close_notify itself, so this marks the connection as shut down,
  // keeping its tickets. Nothing is sent.
  static void keep_resumable(SSL* ssl);

  // Called by OpenSSL's new-session callback (resume.cpp); takes the reference to `session`.
  void store(const std::string& key, SSL_SESSION* session, std::optional<DaneFacts> dane);

private:
  struct Saved {
    SSL_SESSION* session;
    std::optional<DaneFacts> dane;
  };
  struct Entry {
    std::vector<Saved> sessions;
    std::list<std::string>::iterator recent;
  };
  void drop(Entry& e);

  mutable std::mutex mutex_;
  std::size_t capacity_, per_key_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> recent_;  // most recently used first
  Stats stats_;
};

}  // namespace ostls::tls
