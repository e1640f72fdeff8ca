// ostls_serve_lab: the server-role dialogues on a real listener, for the server-role lab test
// (tests/lab/test_server_role.py) until `ostls proxy` server mode wraps them. Accepts on
// 127.0.0.1:PORT, runs net::serve() per connection towards the backend, and prints one JSON
// object per finished session on stdout (flushed), so the test can check what happened.
//
//   ostls_serve_lab --protocol smtp --listen 26001 --backend 127.0.0.1:25601
//                   --cert chain.pem --key key.pem [--implicit] [--require-tls] [-v]
#include <charconv>
#include <cstdio>
#include <iostream>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/outcome.hpp"
#include "net/serve.hpp"
#include "protocols/registry.hpp"
#include "tls/context.hpp"

namespace {

using namespace ostls;

nlohmann::json report_json(const net::ServeReport& r) {
  nlohmann::json events = nlohmann::json::array();
  for (const auto& e : r.facts.events) events.push_back({{"type", name(e.type)}, {"detail", e.detail}});
  return {
      {"upgrade_requested", r.facts.upgrade_requested},
      {"tls", r.facts.tls_established ? nlohmann::json{{"version", *r.version}, {"cipher", *r.cipher}} : nlohmann::json()},
      {"relayed_cleartext", r.facts.relayed_cleartext},
      {"events", events},
      {"error", r.error ? nlohmann::json(r.error->detail) : nlohmann::json()},
      {"to_backend", r.to_backend},
      {"to_client", r.to_client},
  };
}

asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, const net::ServeParams& params) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(net::use_result);
    if (ec) co_return;
    // One coroutine frame per session; a session's failure is in its report, never thrown.
    asio::co_spawn(
        acceptor.get_executor(),
        [s = std::move(socket), &params]() mutable -> asio::awaitable<void> {
          auto report = co_await net::serve(net::Socket(std::move(s)), params);
          std::cout << report_json(report).dump() << std::endl;
        },
        [](const std::exception_ptr& e) {
          if (e) std::cerr << "ostls_serve_lab: session ended by an exception\n";
        });
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"server-role dialogues in front of a plaintext backend (test tool)"};
  std::string scheme, backend, cert, key;
  std::uint16_t port = 0;
  bool implicit = false, require_tls = false, verbose = false;
  app.add_option("--protocol", scheme, "scheme: smtp, imap, pop3, …")->required();
  app.add_option("--listen", port, "port on 127.0.0.1")->required();
  app.add_option("--backend", backend, "HOST:PORT of the plaintext backend")->required();
  app.add_option("--cert", cert, "PEM certificate chain")->required();
  app.add_option("--key", key, "PEM private key")->required();
  app.add_flag("--implicit", implicit, "TLS from the first byte");
  app.add_flag("--require-tls", require_tls, "refuse commands before the upgrade");
  app.add_flag("-v", verbose, "print the dialogue on stderr");
  CLI11_PARSE(app, argc, argv);

  const auto proto_info = proto::find_protocol(scheme);
  const auto colon = backend.rfind(':');
  std::uint16_t backend_port = 0;
  if (!proto_info || colon == std::string::npos ||
      std::from_chars(backend.data() + colon + 1, backend.data() + backend.size(), backend_port).ec != std::errc{}) {
    std::cerr << "ostls_serve_lab: bad --protocol or --backend\n";
    return 2;
  }
  auto ctx = tls::server_context({.cert_file = cert, .key_file = key});
  if (!ctx) {
    std::cerr << "ostls_serve_lab: " << ctx.error().detail << "\n";
    return 2;
  }
  net::ServeParams params;
  params.family = proto_info->family;
  params.machine.require_tls = require_tls;
  params.implicit_tls = implicit;
  params.backend_host = backend.substr(0, colon);
  params.backend_port = backend_port;
  params.tls = ctx->get();
  params.setup_timeout = std::chrono::seconds(20);
  params.idle_timeout = std::chrono::seconds(30);
  if (verbose) {
    params.transcript = [](net::Side side, net::Direction d, std::string_view line) {
      const char* who = side == net::Side::Client ? "client" : "backend";
      const char* arrow = d == net::Direction::Received ? "<" : d == net::Direction::Sent ? ">" : "*";
      std::cerr << who << ' ' << arrow << ' ' << line << '\n';
    };
  }

  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), port});
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code&, int) { io.stop(); });
  asio::co_spawn(io, accept_loop(acceptor, params), asio::detached);
  std::cout << "{\"listening\": " << port << "}" << std::endl;
  io.run();
  return 0;
}
