// tls::SessionCache with real OpenSSL on both ends over an in-memory BIO pair: a session is
// offered again only under the key it was filed under, a resumed connection is reported as one
// and carries the verification of the full handshake, sessions of SSLs never armed are not kept,
// and the cache is bounded.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "support/test_cert.hpp"
#include "tls/context.hpp"
#include "tls/dane.hpp"
#include "tls/handshake.hpp"
#include "tls/resume.hpp"

namespace ostls::tls {
namespace {

struct Pair {
  SslPtr client, server;
};

// Drives both ends until the handshake is done and the server's tickets reached the client
// (TLS 1.3 sends them after the handshake: the client's SSL_read processes them).
bool connect(Pair& p) {
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  if (BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) != 1) return false;
  SSL_set_bio(p.client.get(), client_bio, client_bio);
  SSL_set_bio(p.server.get(), server_bio, server_bio);
  SSL_set_connect_state(p.client.get());
  SSL_set_accept_state(p.server.get());
  bool client_done = false, server_done = false;
  for (int round = 0; round < 50 && !(client_done && server_done); ++round) {
    if (!client_done) {
      const int r = SSL_do_handshake(p.client.get());
      if (r == 1) client_done = true;
      else if (SSL_get_error(p.client.get(), r) != SSL_ERROR_WANT_READ) return false;
    }
    if (!server_done) {
      const int r = SSL_do_handshake(p.server.get());
      if (r == 1) server_done = true;
      else if (SSL_get_error(p.server.get(), r) != SSL_ERROR_WANT_READ) return false;
    }
  }
  // One byte from the server; the client's read consumes the tickets ahead of it.
  char byte = 'x';
  if (SSL_write(p.server.get(), &byte, 1) != 1) return false;
  return client_done && server_done && SSL_read(p.client.get(), &byte, 1) == 1;
}

class SessionCacheTest : public ::testing::Test {
protected:
  void SetUp() override {
    cert_ = test::make_cert("mx.example.test");
    server_ctx_ = test::server_context(cert_);
    // Tickets on (the shared test context may have them off): two per full handshake.
    SSL_CTX_set_num_tickets(server_ctx_.get(), 2);
    SSL_CTX_set_session_cache_mode(server_ctx_.get(), SSL_SESS_CACHE_SERVER);
    auto c = client_context({.authenticated = false});
    ASSERT_TRUE(c);
    client_ctx_ = std::move(*c);
  }

  Pair pair() { return {SslPtr(SSL_new(client_ctx_.get())), SslPtr(SSL_new(server_ctx_.get()))}; }

  test::TestCert cert_;
  SslCtxPtr server_ctx_, client_ctx_;
};

TEST_F(SessionCacheTest, ResumesUnderTheSameKeyOnly) {
  SessionCache cache;
  Pair first = pair();
  EXPECT_FALSE(cache.arm(first.client.get(), "mx.example.test:25"));
  ASSERT_TRUE(connect(first));
  EXPECT_EQ(SSL_session_reused(first.client.get()), 0);
  SessionCache::keep_resumable(first.client.get());
  first = {};  // SSL_free: the tickets stay in the cache
  EXPECT_EQ(cache.stats().keys, 1u);
  EXPECT_GE(cache.stats().stored, 1u);

  Pair second = pair();
  EXPECT_TRUE(cache.arm(second.client.get(), "mx.example.test:25"));
  ASSERT_TRUE(connect(second));
  EXPECT_EQ(SSL_session_reused(second.client.get()), 1);
  // The resumed connection still shows the server's certificate (kept in the session).
  X509Ptr peer(SSL_get1_peer_certificate(second.client.get()));
  ASSERT_TRUE(peer);
  EXPECT_EQ(X509_cmp(peer.get(), cert_.cert.get()), 0);

  Pair other = pair();
  EXPECT_FALSE(cache.arm(other.client.get(), "mx.example.test:25\nanother level"));
  ASSERT_TRUE(connect(other));
  EXPECT_EQ(SSL_session_reused(other.client.get()), 0);
}

TEST_F(SessionCacheTest, SslsNeverArmedKeepNothing) {
  SessionCache cache;
  Pair p = pair();
  ASSERT_TRUE(connect(p));
  EXPECT_EQ(cache.stats().stored, 0u);
  EXPECT_EQ(cache.stats().keys, 0u);
}

TEST_F(SessionCacheTest, AConnectionEndedWithoutShutdownLosesItsSessions) {
  // OpenSSL's rule, which keep_resumable() lifts for a relay that ended cleanly. It marks the
  // connection's current session, the last ticket: with one ticket per handshake (Postfix) that
  // is all of them.
  SSL_CTX_set_num_tickets(server_ctx_.get(), 1);
  SessionCache cache;
  Pair first = pair();
  cache.arm(first.client.get(), "k");
  ASSERT_TRUE(connect(first));
  first = {};
  Pair second = pair();
  cache.arm(second.client.get(), "k");
  ASSERT_TRUE(connect(second));
  EXPECT_EQ(SSL_session_reused(second.client.get()), 0);
}

TEST_F(SessionCacheTest, DaneFactsOfTheFullHandshakeAreInherited) {
  // A DANE-EE 3 1 1 record for the test certificate's key.
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert_.cert.get()), &der);
  ASSERT_GT(len, 0);
  unsigned char digest[32];
  unsigned int dlen = 0;
  ASSERT_EQ(EVP_Digest(der, static_cast<std::size_t>(len), digest, &dlen, EVP_sha256(), nullptr), 1);
  OPENSSL_free(der);
  const std::vector<dns::Tlsa> records{{.usage = 3, .selector = 1, .mtype = 1,
                                        .data = std::string(reinterpret_cast<const char*>(digest), dlen)}};
  auto ctx = client_context({.authenticated = true, .dane = true});
  ASSERT_TRUE(ctx);
  SessionCache cache;
  const auto dane_pair = [&] {
    Pair p{SslPtr(SSL_new(ctx->get())), SslPtr(SSL_new(server_ctx_.get()))};
    EXPECT_TRUE(enable_dane(p.client.get(), {.base_domain = "mx.example.test", .extra_names = {}, .records = records}));
    return p;
  };

  Pair first = dane_pair();
  cache.arm(first.client.get(), "dane");
  ASSERT_TRUE(connect(first));
  const DaneFacts full = dane_facts(first.client.get());
  ASSERT_TRUE(full.matched);
  SessionCache::keep_resumable(first.client.get());
  first = {};

  Pair second = dane_pair();
  ASSERT_TRUE(cache.arm(second.client.get(), "dane"));
  ASSERT_TRUE(connect(second));
  ASSERT_EQ(SSL_session_reused(second.client.get()), 1);
  // OpenSSL does not verify a resumed session again, so it reports no DANE match of its own…
  EXPECT_FALSE(dane_facts(second.client.get()).matched);
  // …and the cache hands over the full handshake's.
  const auto inherited = SessionCache::inherited_dane(second.client.get());
  ASSERT_TRUE(inherited);
  EXPECT_TRUE(inherited->matched);
  EXPECT_EQ(inherited->usage, full.usage);
  EXPECT_EQ(inherited->record, full.record);
  EXPECT_EQ(SSL_get_verify_result(second.client.get()), X509_V_OK);
}

TEST_F(SessionCacheTest, BoundedByKeys) {
  SessionCache cache(2, 1);
  for (const char* key : {"a", "b", "c"}) {
    Pair p = pair();
    cache.arm(p.client.get(), key);
    ASSERT_TRUE(connect(p));
    SessionCache::keep_resumable(p.client.get());
  }
  EXPECT_EQ(cache.stats().keys, 2u);
  Pair a = pair();
  EXPECT_FALSE(cache.arm(a.client.get(), "a"));  // the least recently used went first
  Pair c = pair();
  EXPECT_TRUE(cache.arm(c.client.get(), "c"));
}

}  // namespace
}  // namespace ostls::tls
