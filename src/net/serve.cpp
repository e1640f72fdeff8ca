#include "net/serve.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include <fmt/format.h>

#include "net/connect.hpp"
#include "net/watchdog.hpp"
#include "protocols/text.hpp"
#include "tls/context.hpp"

namespace ostls::net {
namespace {

using namespace asio::experimental::awaitable_operators;

Transcript side_transcript(const SessionTranscript& t, Side side) {
  if (!t) return {};
  return [t, side](Direction d, std::string_view line) { t(side, d, line); };
}

// After the client's end of stream, how long a TLS backend (which cannot be half-closed) may
// still take to send its last replies before the relay ends.
constexpr std::chrono::seconds tls_half_close_grace{2};

// Bytes per read: a full TLS record's plaintext (16 KiB) and more, so that a bulk stream costs
// one read and one write per record, and writes towards TLS become full-size records.
constexpr std::size_t relay_chunk = 64 * 1024;

struct Relay {
  Channel& client;
  Channel& backend;
  ServeReport& report;
  Clock::duration limit;
  Clock::time_point last = Clock::now();
  bool done = false;
  bool client_gone = false;  // the client ended its stream towards a TLS backend
  asio::steady_timer* timer = nullptr;

  void stop() {
    done = true;
    client.abort();
    backend.abort();
  }

  // Client → backend. The client's end of stream becomes a half-close towards the backend, whose
  // last replies still reach the client — a TLS backend gets tls_half_close_grace for them
  // (TLS has no half-close here), so a client that left does not hold its upstream session
  // until the idle timeout. The backend's end closes everything.
  awaitable<void> pump(Channel& from, Channel& to, std::uint64_t& count, bool towards_backend) {
    auto buffer = std::make_unique<char[]>(relay_chunk);
    while (!done) {
      auto n = co_await from.read_into({buffer.get(), relay_chunk});
      if (!n) {
        if (towards_backend && n.error().code == Errc::Closed) {
          if (to.is_tls()) {
            client_gone = true;
            limit = std::min(limit, Clock::duration(tls_half_close_grace));
            last = Clock::now();
            if (timer != nullptr) timer->cancel();  // the idle loop takes the new limit
          } else {
            to.half_close();
          }
        } else {
          stop();
        }
        co_return;
      }
      last = Clock::now();
      count += *n;
      if (auto w = co_await to.write({buffer.get(), *n}); !w) {
        stop();
        co_return;
      }
    }
  }

  awaitable<void> idle() {
    asio::steady_timer t(co_await asio::this_coro::executor);
    timer = &t;
    while (!done) {
      t.expires_at(last + limit);
      auto [ec] = co_await t.async_wait(use_result);
      if (done) break;
      if (ec) {
        const auto state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none) break;  // the relay ended first
        continue;  // cancelled by pump(): a new limit
      }
      if (Clock::now() >= last + limit) {
        if (!client_gone) report.error = Error{Errc::Timeout, Fault::Network, "relay idle timeout"};
        stop();
        break;
      }
    }
    timer = nullptr;
  }
};

}  // namespace

awaitable<void> relay(Channel& client, Channel& backend, ServeReport& report, Clock::duration idle_limit) {
  // What either side sent ahead of the switch to relaying belongs to the session: forward it.
  // (Client bytes behind an upgrade command never get here: serve() discarded them.)
  if (auto early = backend.take_leftover(); !early.empty()) {
    report.to_client += early.size();
    if (!co_await client.write(early)) co_return;
  }
  if (auto early = client.take_leftover(); !early.empty()) {
    report.to_backend += early.size();
    if (!co_await backend.write(early)) co_return;
  }
  Relay r{client, backend, report, idle_limit};
  co_await ((r.pump(client, backend, report.to_backend, true) && r.pump(backend, client, report.to_client, false)) ||
            r.idle());
}

namespace {

awaitable<Result<void>> server_handshake(Channel& client, const ServeParams& p, ServeReport& report) {
  SSL* raw = SSL_new(p.tls);
  if (raw == nullptr) co_return fail(Errc::Tls, Fault::Local, tls::last_error());
  tls::SslPtr ssl(raw);
  const auto start = Clock::now();
  auto hs = co_await client.handshake(std::move(ssl), false);
  report.handshake_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!hs) co_return hs;
  report.facts.tls_established = true;
  report.version = SSL_get_version(client.ssl());
  report.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(client.ssl()));
  co_return Result<void>{};
}

awaitable<Result<proto::Action>> step(proto::AnyServer& machine, Channel& from, std::size_t bytes, bool client_side) {
  if (bytes > 0) {
    auto data = co_await from.read_bytes(bytes);
    if (!data) co_return unexpected<Error>(data.error());
    co_return client_side ? machine.on_client_bytes(*data) : machine.on_backend_bytes(*data);
  }
  auto line = co_await from.read_line();
  if (!line) co_return unexpected<Error>(line.error());
  co_return client_side ? machine.on_client_line(*line) : machine.on_backend_line(*line);
}

}  // namespace

awaitable<ServeReport> serve(Socket client_socket, const ServeParams& p) {
  ServeReport report;
  auto machine = proto::AnyServer::make(p.family, p.machine);
  if (!machine) {
    report.error = machine.error();
    co_return report;
  }
  Watchdog watchdog(co_await asio::this_coro::executor, p.setup_timeout);
  Channel client(std::move(client_socket), p.machine.limits, side_transcript(p.transcript, Side::Client));
  std::optional<Channel> backend;
  auto connect_backend = [&]() -> awaitable<Result<void>> {
    backend.reset();
    auto c = co_await connect(p.backend_host, p.backend_port, {}, watchdog);
    if (!c) co_return unexpected<Error>(c.error());
    backend.emplace(std::move(c->socket), p.machine.limits, side_transcript(p.transcript, Side::Backend));
    watchdog.on_expiry([&] {
      client.abort();
      if (backend) backend->abort();
    });
    if (p.backend_preamble) {
      if (auto w = co_await backend->write(p.backend_preamble(report)); !w) co_return w;
    }
    co_return Result<void>{};
  };
  std::vector<Event> driver_events;
  // The report: the machine's facts, the driver's evidence, and why it ended (if early).
  auto finish = [&](std::optional<Error> e) {
    const bool tls = report.facts.tls_established;
    report.facts = machine->facts();
    report.facts.tls_established = tls;
    report.facts.events.insert(report.facts.events.end(), driver_events.begin(), driver_events.end());
    if (e) report.error = std::move(e);
    return report;
  };

  watchdog.on_expiry([&] { client.abort(); });
  if (p.implicit_tls) {
    if (auto hs = co_await server_handshake(client, p, report); !hs) co_return finish(hs.error());
  }
  if (auto c = co_await connect_backend(); !c) co_return finish(c.error());
  proto::Action action = p.implicit_tls ? proto::Action{{}, {}, proto::Next::Relay, 0, std::nullopt} : machine->start();
  for (;;) {
    if (!action.to_backend.empty()) {
      if (auto w = co_await backend->write(action.to_backend); !w) co_return finish(w.error());
    }
    if (!action.to_client.empty()) {
      if (auto w = co_await client.write(action.to_client); !w) co_return finish(w.error());
    }
    Result<proto::Action> next = action;
    switch (action.next) {
      case proto::Next::ReadClient:
        next = co_await step(*machine, client, action.read_bytes, true);
        break;
      case proto::Next::ReadBackend:
        next = co_await step(*machine, *backend, action.read_bytes, false);
        break;
      case proto::Next::StartTls:
        // R10: whatever the client sent behind its upgrade command is never executed.
        if (auto injected = client.take_leftover(); !injected.empty()) {
          driver_events.push_back({EventType::CommandInjection,
                                   fmt::format("{} bytes pipelined behind the upgrade command, discarded: \"{}\"",
                                               injected.size(), proto::excerpt(injected))});
        }
        if (auto hs = co_await server_handshake(client, p, report); !hs) co_return finish(hs.error());
        next = machine->on_tls_established();
        break;
      case proto::Next::ConnectBackend:
        if (auto c = co_await connect_backend(); !c) co_return finish(c.error());
        next = machine->on_backend_connected();
        break;
      case proto::Next::Relay:
        watchdog.clear();
        co_await relay(client, *backend, report, p.idle_timeout);
        co_return finish(std::nullopt);
      case proto::Next::Close:
        co_return finish(std::nullopt);
      case proto::Next::Fail:
        co_return finish(action.error.value_or(Error{Errc::Malformed, Fault::Local, "server dialogue failed"}));
    }
    if (!next) co_return finish(next.error());
    action = std::move(*next);
  }
}

}  // namespace ostls::net
