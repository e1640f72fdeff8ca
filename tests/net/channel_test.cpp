// net::Channel and net::drive over in-memory stream pairs (UNIX socketpair) with real OpenSSL:
// bounded line reads, deadlines, and R10 — plaintext pipelined behind the STARTTLS reply is
// never read as TLS-protected data, and capabilities are read again after TLS.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/write.hpp>

#include "net/channel.hpp"
#include "net/drive.hpp"
#include "net/watchdog.hpp"
#include "protocols/smtp.hpp"
#include "support/test_cert.hpp"
#include "tls/context.hpp"
#include "tls/handshake.hpp"

// gtest's ASSERT_* return from the function, which a coroutine cannot do.
#define CO_ASSERT(cond)                                  \
  do {                                                   \
    if (!(cond)) {                                       \
      ADD_FAILURE() << "assertion failed: " #cond;       \
      co_return;                                         \
    }                                                    \
  } while (0)

namespace ostls::net {
namespace {

struct Pair {
  asio::io_context io;
  Socket client{io}, server{io};
  Pair() {
    asio::local::stream_protocol::socket a(io), b(io);
    asio::local::connect_pair(a, b);
    client = Socket(std::move(a));
    server = Socket(std::move(b));
  }
  template <class F>
  void run(F&& body) {
    bool done = false;
    asio::co_spawn(io, [&]() -> awaitable<void> { co_await body(); done = true; }, [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    io.run_for(std::chrono::seconds(20));
    ASSERT_TRUE(done) << "test coroutine did not finish";
  }
};

awaitable<void> write_raw(Socket& s, std::string bytes) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(bytes), use_result);
  EXPECT_FALSE(ec) << ec.message();
}

// For a flood the reader stops consuming: the broken pipe that ends it is expected.
awaitable<void> flood(Socket& s, std::string bytes) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(bytes), use_result);
  (void)ec;
  (void)n;
}

TEST(Channel, ReadsLinesWithCrlfOrLf) {
  Pair p;
  p.run([&]() -> awaitable<void> {
    Channel ch(std::move(p.client), Limits{});
    co_await write_raw(p.server, "220 one\r\n250 two\n250-three\r\n");
    EXPECT_EQ(*co_await ch.read_line(), "220 one");
    EXPECT_EQ(*co_await ch.read_line(), "250 two");
    EXPECT_EQ(*co_await ch.read_line(), "250-three");
    EXPECT_TRUE(ch.take_leftover().empty());
  });
}

TEST(Channel, OverlongLineIsAnError) {
  Pair p;
  p.run([&]() -> awaitable<void> {
    Limits limits;
    limits.max_line = 1024;
    Channel ch(std::move(p.client), limits);
    // 1 MB without a line end (issue 2: "1 MB line") — rejected after max_line bytes.
    // Written concurrently: the socket buffer holds less than 1 MB.
    asio::co_spawn(co_await asio::this_coro::executor, flood(p.server, std::string(1 << 20, 'a')), asio::detached);
    auto line = co_await ch.read_line();
    CO_ASSERT(!(line));
    EXPECT_EQ(line.error().code, Errc::LineTooLong);
    EXPECT_EQ(line.error().fault, Fault::Peer);
  });
}

TEST(Channel, EndOfStreamIsClosed) {
  Pair p;
  p.run([&]() -> awaitable<void> {
    Channel ch(std::move(p.client), Limits{});
    co_await write_raw(p.server, "220 partial line without end");
    p.server.close();
    auto line = co_await ch.read_line();
    CO_ASSERT(!(line));
    EXPECT_EQ(line.error().code, Errc::Closed);
  });
}

TEST(Channel, SilentPeerHitsTheDeadline) {
  Pair p;
  p.run([&]() -> awaitable<void> {
    Channel ch(std::move(p.client), Limits{});
    Watchdog dog(co_await asio::this_coro::executor, std::chrono::milliseconds(200));
    dog.on_expiry([&ch] { ch.abort(); });
    co_await write_raw(p.server, "220 no line end");  // no CRLF, then silence
    const auto start = Clock::now();
    auto line = co_await ch.read_line();
    CO_ASSERT(!(line));
    EXPECT_EQ(line.error().code, Errc::Timeout);
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  });
}

// A hostile STARTTLS server on the other end: pipelines fake replies behind "220", then runs a
// real TLS handshake and answers the post-TLS EHLO honestly.
awaitable<void> injecting_server(Socket sock, SSL_CTX* ctx) {
  Channel s(std::move(sock), Limits{});
  co_await s.write("220 mx.test ESMTP\r\n");
  EXPECT_EQ(*co_await s.read_line(), "EHLO client.test");
  co_await s.write("250-mx.test\r\n250 STARTTLS\r\n");
  EXPECT_EQ(*co_await s.read_line(), "STARTTLS");
  co_await s.write("220 go ahead\r\n250-mx.test\r\n250 AUTH INJECTED\r\n");  // one write
  auto hs = co_await s.handshake(tls::SslPtr(SSL_new(ctx)), false);
  EXPECT_TRUE(hs) << (hs ? "" : hs.error().detail);
  EXPECT_EQ(*co_await s.read_line(), "EHLO client.test");
  co_await s.write("250-mx.test\r\n250 AUTH PLAIN\r\n");
  EXPECT_EQ(*co_await s.read_line(), "QUIT");
}

TEST(Channel, ResponseInjectionIsDiscardedAndCapabilitiesReRead) {
  Pair p;
  const auto cert = test::make_cert("mx.test");
  auto server_ctx = test::server_context(cert);
  auto client_ctx = tls::client_context({});
  ASSERT_TRUE(client_ctx);
  asio::co_spawn(p.io, injecting_server(std::move(p.server), server_ctx.get()), asio::detached);
  p.run([&]() -> awaitable<void> {
    Channel ch(std::move(p.client), Limits{});
    smtp::Client machine({.helo = "client.test"});
    auto step = co_await drive(machine, ch, machine.start());
    CO_ASSERT(step);
    CO_ASSERT(std::holds_alternative<proto::StartTls>(*step));
    const auto leftover = ch.take_leftover();
    EXPECT_EQ(leftover, "250-mx.test\r\n250 AUTH INJECTED\r\n") << "the injected bytes are seen and discarded";
    auto ssl = tls::client_session(client_ctx->get(), {.sni = "mx.test"});
    CO_ASSERT(ssl);
    auto hs = co_await ch.handshake(std::move(*ssl));
    CO_ASSERT(hs);
    const std::vector<std::string> ids{"mx.test"};
    const auto facts = tls::handshake_facts(ch.ssl(), ids);
    EXPECT_TRUE(facts.verify.name_ok);
    EXPECT_FALSE(facts.verify.chain_ok) << "self-signed: recorded, not enforced here";
    EXPECT_EQ(facts.peer->cert_sha256, tls::cert_sha256(cert.cert.get()));
    step = co_await drive(machine, ch, machine.on_tls_established());
    CO_ASSERT(step);
    EXPECT_TRUE(std::holds_alternative<proto::Close>(*step));
    EXPECT_EQ(machine.facts().caps_tls, std::vector<std::string>{"AUTH PLAIN"})
        << "only the post-TLS EHLO counts; the injected AUTH INJECTED never does";
  });
}

TEST(Channel, HandshakeRefusesBufferedPlaintext) {
  Pair p;
  p.run([&]() -> awaitable<void> {
    Channel ch(std::move(p.client), Limits{});
    co_await write_raw(p.server, "220 go\r\nleftover");
    EXPECT_EQ(*co_await ch.read_line(), "220 go");
    auto ctx = tls::client_context({});
    auto ssl = tls::client_session(ctx->get(), {});
    auto hs = co_await ch.handshake(std::move(*ssl));
    CO_ASSERT(!(hs));
    EXPECT_EQ(hs.error().fault, Fault::Local);
  });
}

}  // namespace
}  // namespace ostls::net
