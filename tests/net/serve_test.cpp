// net::serve() in process: a client on a UNIX socketpair (real OpenSSL on both ends) and a
// scripted plaintext SMTP backend on a loopback listener. R10 in the server role: a command
// pipelined behind STARTTLS is discarded, recorded, and never reaches the backend.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/write.hpp>

#include "net/channel.hpp"
#include "net/serve.hpp"
#include "support/test_cert.hpp"
#include "tls/context.hpp"

namespace ostls::net {
namespace {

// A plaintext SMTP backend that answers every command with 250 and remembers what it got.
awaitable<void> backend(asio::ip::tcp::acceptor& acceptor, std::vector<std::string>& got) {
  auto [ec, socket] = co_await acceptor.async_accept(use_result);
  if (ec) co_return;
  Channel ch(Socket(std::move(socket)), Limits{});
  (void)co_await ch.write("220 backend ESMTP\r\n");
  for (;;) {
    auto line = co_await ch.read_line();
    if (!line) co_return;
    got.push_back(*line);
    const bool quit = *line == "QUIT";
    (void)co_await ch.write(line->rfind("EHLO", 0) == 0 ? "250-backend\r\n250 PIPELINING\r\n"
                            : quit                      ? "221 bye\r\n"
                                                        : "250 ok\r\n");
    if (quit) co_return;
  }
}

struct Session {
  std::vector<std::string> backend_got;
  std::vector<std::string> client_got;
  ServeReport report;
};

// The client sends `upgrade` (STARTTLS and whatever is pipelined behind it) in one write.
Session run(const std::string& upgrade) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::local::stream_protocol::socket a(io), b(io);
  asio::local::connect_pair(a, b);
  const auto cert = test::make_cert("front.test");
  auto server_ctx = test::server_context(cert);
  Session s;
  ServeParams params;
  params.family = proto::Family::Smtp;
  params.backend_host = "127.0.0.1";
  params.backend_port = acceptor.local_endpoint().port();
  params.tls = server_ctx.get();
  params.setup_timeout = std::chrono::seconds(10);
  params.idle_timeout = std::chrono::seconds(10);

  asio::co_spawn(io, backend(acceptor, s.backend_got), [](const std::exception_ptr&) {});
  asio::co_spawn(
      io, [&]() -> awaitable<void> { s.report = co_await serve(Socket(std::move(b)), params); },
      [](const std::exception_ptr& e) {
        if (e) std::rethrow_exception(e);
      });
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        Channel ch(Socket(std::move(a)), Limits{});
        auto read_reply = [&]() -> awaitable<void> {
          for (;;) {
            auto line = co_await ch.read_line();
            if (!line) co_return;
            s.client_got.push_back(*line);
            if (line->size() < 4 || (*line)[3] != '-') co_return;
          }
        };
        co_await read_reply();  // greeting
        (void)co_await ch.write("EHLO client\r\n");
        co_await read_reply();
        (void)co_await ch.write(upgrade);
        co_await read_reply();  // 220
        auto client_ctx = tls::client_context({});
        auto ssl = tls::client_session(client_ctx->get(), {});
        (void)ch.take_leftover();
        if (auto hs = co_await ch.handshake(std::move(*ssl)); !hs) co_return;
        (void)co_await ch.write("EHLO client\r\n");
        co_await read_reply();
        (void)co_await ch.write("QUIT\r\n");
        co_await read_reply();
      },
      [](const std::exception_ptr& e) {
        if (e) std::rethrow_exception(e);
      });
  io.run_for(std::chrono::seconds(20));
  return s;
}

TEST(Serve, StarttlsThenRelayOverTls) {
  const auto s = run("STARTTLS\r\n");
  EXPECT_FALSE(s.report.error) << s.report.error->detail;
  EXPECT_TRUE(s.report.facts.tls_established);
  EXPECT_EQ(s.report.version, "TLSv1.3");
  EXPECT_TRUE(s.report.facts.events.empty());
  // The backend saw both EHLOs and the QUIT, never STARTTLS (answered by the front).
  EXPECT_EQ(s.backend_got, (std::vector<std::string>{"EHLO client", "EHLO client", "QUIT"}));
  // Before TLS the client was offered STARTTLS; after TLS it sees the backend's list unchanged.
  ASSERT_GE(s.client_got.size(), 8u);
  EXPECT_EQ(s.client_got[3], "250 STARTTLS");
  EXPECT_EQ(s.client_got[4], "220 2.0.0 Ready to start TLS");
  EXPECT_EQ(s.client_got[6], "250 PIPELINING");
  EXPECT_EQ(s.client_got.back(), "221 bye");
}

TEST(Serve, CommandPipelinedBehindStarttlsNeverReachesTheBackend) {
  const auto s = run("STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n");
  EXPECT_TRUE(s.report.facts.tls_established);
  ASSERT_EQ(s.report.facts.events.size(), 1u);
  EXPECT_EQ(s.report.facts.events[0].type, EventType::CommandInjection);
  EXPECT_NE(s.report.facts.events[0].detail.find("MAIL FROM"), std::string::npos);
  for (const auto& line : s.backend_got) EXPECT_EQ(line.find("MAIL"), std::string::npos) << line;
  EXPECT_EQ(s.backend_got, (std::vector<std::string>{"EHLO client", "EHLO client", "QUIT"}));
}

}  // namespace
}  // namespace ostls::net
