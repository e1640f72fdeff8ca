#include "proxy/proxy.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "dns/resolver.hpp"
#include "net/connect.hpp"
#include "net/serve.hpp"
#include "policy/policy_map.hpp"
#include "probe/probe.hpp"
#include "probe/target.hpp"
#include "proxy/client_side.hpp"
#include "proxy/metrics.hpp"
#include "proxy/proxy_protocol.hpp"
#include "report/log_line.hpp"
#include "store/store.hpp"
#include "tls/context.hpp"
#include "tls/resume.hpp"

namespace ostls::proxy {
namespace {

using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

void log(std::string_view listener, std::string_view text) {
  fmt::print(stderr, "{} ostls proxy[{}]: {}\n", store::iso_time(store::now()), listener, text);
  std::fflush(stderr);
}

unexpected<Error> listener_error(const Config& c, const Listener& l, std::string_view what, const Error& e) {
  return fail(Errc::Usage, Fault::Config, fmt::format("{}:{}: listener \"{}\": {}: {}", c.path, l.line, l.name, what, e.detail));
}

// One session event loop (thread) with what its client-mode sessions use alone: the resolver
// (libunbound's context and its socket belong to one loop) and a store connection. The
// acceptors, signals, reloads and metrics run on the main loop, which hands each accepted
// connection to the worker with the fewest open sessions.
// io_context's shutdown() (protected in asio::execution_context): destroys every pending handler
// — the frames of sessions still open after a drain timeout — while what they refer to (the
// worker's resolver and store, the shared caches) is still alive.
struct Loop : asio::io_context {
  using asio::io_context::io_context;
  using asio::io_context::shutdown;
};

struct Worker {
  Loop io{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
  std::unique_ptr<dns::Resolver> resolver;  // client mode
  std::optional<store::Store> store;        // client mode
  std::atomic<std::size_t> open{0};
  std::thread thread;
};

// What every worker shares.
struct Services {
  tls::ClientContextCache* contexts = nullptr;  // client mode: one SSL_CTX per policy (thread-safe)
  tls::SessionCache* sessions = nullptr;        // client mode: resumption toward repeat destinations
  bool verbose = false;
};

// Everything one session of a listener needs, immutable once made: a SIGHUP replaces the
// listener's snapshot, and sessions still running keep theirs.
struct Snapshot {
  Listener conf;
  tls::SslCtxPtr server_ctx;              // server mode
  std::optional<policy::PolicyMap> map;   // client mode
  std::optional<probe::Target> target;    // client mode, unless transparent
  probe::Options options;                 // client mode; points into this snapshot and the services
                                          // (each session adds its worker's resolver and store)
  net::ServeParams serve;                 // server mode; points into this snapshot
};

Result<std::shared_ptr<Snapshot>> make_snapshot(const Config& c, const Listener& l, const Services& services) {
  auto s = std::make_shared<Snapshot>();
  s->conf = l;
  if (l.mode == Mode::Server) {
    auto ctx = tls::server_context({.cert_file = l.cert, .key_file = l.key});
    if (!ctx) return listener_error(c, l, "cert/key", ctx.error());
    s->server_ctx = std::move(*ctx);
    auto& p = s->serve;
    p.family = l.protocol.family;
    p.machine.require_tls = l.require_tls;
    p.machine.limits = l.limits;
    p.implicit_tls = l.implicit_tls;
    p.backend_host = l.backend->host;
    p.backend_port = l.backend->port;
    p.tls = s->server_ctx.get();
    p.setup_timeout = l.handshake_timeout;
    p.idle_timeout = l.idle_timeout;
    if (services.verbose) {
      p.transcript = [name = l.name](net::Side side, net::Direction d, std::string_view line) {
        const char* arrow = d == net::Direction::Received ? "<" : d == net::Direction::Sent ? ">" : "*";
        fmt::print(stderr, "[{}] {} {} {}\n", name, side == net::Side::Client ? "client" : "backend", arrow, line);
      };
    }
    return s;
  }
  // Client mode: the destination as a probe target (transparent: each connection's own), with
  // the listener's policy.
  if (!l.transparent) {
    const auto text = l.connect ? fmt::format("{}://[{}]:{}", l.protocol.scheme, l.connect->host, l.connect->port)
                                : fmt::format("{}://{}", l.protocol.scheme, *l.destination);
    auto target = probe::parse_target(text);
    if (!target) return listener_error(c, l, "destination", target.error());
    s->target = std::move(*target);
    if (l.port != 0) s->target->port = l.port;
  }
  if (!l.policy_map.empty()) {
    auto m = policy::PolicyMap::load(l.policy_map);
    if (!m) return listener_error(c, l, "policy_map", m.error());
    s->map = std::move(*m);
  }
  auto& o = s->options;
  o.level = l.level;
  o.level_source = l.level_given ? PolicySource::CommandLine : PolicySource::Default;
  o.policy_map = s->map ? &*s->map : nullptr;
  o.cafile = l.cafile;
  o.capath = l.capath;
  if (!l.servername.empty()) o.servername = l.servername;
  o.helo = l.helo.empty() ? "localhost" : l.helo;
  o.timeout = l.handshake_timeout;
  o.limits = l.limits;
  o.contexts = services.contexts;
  o.sessions = l.session_resumption ? services.sessions : nullptr;
  o.socket_mark = l.mark;
  o.sticky = l.sticky;
  o.mta_sts_port = l.mta_sts_port;
  if (services.verbose) {
    o.transcript = [name = l.name](net::Direction d, std::string_view line) {
      const char* arrow = d == net::Direction::Received ? "<" : d == net::Direction::Sent ? ">" : "*";
      fmt::print(stderr, "[{}] upstream {} {}\n", name, arrow, line);
    };
  }
  return s;
}

// What sessions update as they end, from any worker. Shared, not owned by the Runtime: after a
// drain timeout the sessions still open are destroyed with their workers' io_contexts, after the
// Runtime is gone.
struct Shared {
  explicit Shared(asio::io_context& context) : io(context) {}
  asio::io_context& io;  // the main loop
  Metrics metrics;
  std::atomic<std::size_t> open_total{0};
  std::atomic<bool> draining{false};
};

// One listener as it runs: its current snapshot and acceptor (main loop only), its open sessions.
struct Live {
  std::shared_ptr<const Snapshot> snap;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::atomic<std::size_t> open{0};
  std::mutex per_client_mutex;                          // sessions end on worker threads
  std::map<asio::ip::address, std::size_t> per_client;  // open sessions by client address
};

// Transparent mode: where the application was going before the redirect (nftables `redirect`,
// iptables REDIRECT) sent it here — SO_ORIGINAL_DST of <linux/netfilter_ipv4.h> and
// IP6T_SO_ORIGINAL_DST of <linux/netfilter_ipv6/ip6_tables.h>, both 80. Refused: a connection
// that was not redirected (it would lead back to the listener), and one that comes from our own
// upstream socket (a rule without the mark exemption: a redirect loop). The latter is told by
// its source port, one of those net::connect bound for marked sockets in the last 30 s.
Result<tcp::endpoint> original_destination(tcp::socket& socket, std::uint32_t mark) {
  constexpr int so_original_dst = 80;
  std::error_code ec;
  const auto local = socket.local_endpoint(ec);
  if (ec) return fail(Errc::Io, Fault::Local, ec.message());
  // The kernel fills in a sockaddr_in (sockaddr_in6) and leaves the length as given.
  const bool v6 = local.address().is_v6();
  tcp::endpoint original(v6 ? tcp::v6() : tcp::v4(), 0);
  socklen_t len = static_cast<socklen_t>(original.size());
  if (::getsockopt(socket.native_handle(), v6 ? SOL_IPV6 : SOL_IP, so_original_dst, original.data(), &len) != 0) {
    return fail(Errc::Io, Fault::Local, fmt::format("SO_ORIGINAL_DST: {}", std::strerror(errno)));
  }
  if (net::marked_source_port(socket.remote_endpoint(ec).port())) {
    // One of our own upstream connections, redirected back here: the rule lacks the exemption.
    return fail(Errc::Usage, Fault::Config,
                fmt::format("a connection from this proxy's own upstream socket came back: the redirect rule "
                            "must exempt packets with mark {:#x}", mark));
  }
  if (original == local) {
    // Not redirected: the application connected to the listener itself; going "there" would
    // connect the proxy to itself.
    return fail(Errc::Usage, Fault::Config, fmt::format("connection to {} was not redirected (no original destination)",
                                                        local.address().to_string()));
  }
  return original;
}

class Runtime {
public:
  Runtime(asio::io_context& io, std::vector<std::unique_ptr<Worker>>& workers, Config config, Services services)
      : io_(io),
        workers_(workers),
        config_(std::move(config)),
        services_(services),
        signals_(io, SIGTERM, SIGINT, SIGHUP),
        shared_(std::make_shared<Shared>(io)) {}

  Result<void> start() {
    std::vector<std::pair<const Listener*, std::shared_ptr<Snapshot>>> snaps;
    for (const auto& l : config_.listeners) {
      auto s = make_snapshot(config_, l, services_);
      if (!s) return unexpected<Error>(s.error());
      snaps.emplace_back(&l, std::move(*s));
    }
    for (auto& [l, snap] : snaps) {
      auto live = std::make_shared<Live>();
      live->snap = std::move(snap);
      if (auto a = open_acceptor(*live, l->listen); !a) return a;
      listeners_[l->name] = live;
      log(l->name, fmt::format("{} mode, {} on {}{}", l->mode == Mode::Client ? "client" : "server",
                               l->protocol.scheme, l->listen.to_string(), describe(*live->snap)));
      asio::co_spawn(io_, accept_loop(live), asio::detached);
    }
    if (config_.metrics) {
      auto a = std::make_unique<tcp::acceptor>(io_);
      if (auto r = bind(*a, *config_.metrics); !r) return r;
      metrics_acceptor_ = std::move(a);
      log("metrics", fmt::format("Prometheus metrics at http://{}/metrics", config_.metrics->to_string()));
      asio::co_spawn(io_, metrics_loop(), asio::detached);
    }
    asio::co_spawn(io_, signal_loop(), asio::detached);
    log("proxy", fmt::format("{} worker loop{}", workers_.size(), workers_.size() == 1 ? "" : "s"));
    return {};
  }

private:
  static std::string describe(const Snapshot& s) {
    const auto& l = s.conf;
    if (l.mode == Mode::Server) return fmt::format(" → backend {}", l.backend->to_string());
    if (l.transparent) return fmt::format(" → the original destination (transparent, upstream mark {:#x})", l.mark);
    return fmt::format(" → {}", s.target->text);
  }

  // The worker with the fewest open sessions.
  Worker& pick() {
    return **std::min_element(workers_.begin(), workers_.end(),
                              [](const auto& a, const auto& b) { return a->open.load() < b->open.load(); });
  }

  Result<void> bind(tcp::acceptor& a, const Endpoint& e) {
    std::error_code ec;
    const auto address = asio::ip::make_address(e.host, ec);
    if (ec) return fail(Errc::Usage, Fault::Config, fmt::format("{}: {} is not an IP address", e.to_string(), e.host));
    const tcp::endpoint ep(address, e.port);
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail(Errc::Io, Fault::Local, fmt::format("cannot listen on {}: {}", e.to_string(), ec.message()));
    return {};
  }

  Result<void> open_acceptor(Live& live, const Endpoint& e) {
    auto a = std::make_unique<tcp::acceptor>(io_);
    if (auto r = bind(*a, e); !r) return r;
    live.acceptor = std::move(a);
    return {};
  }

  net::awaitable<void> accept_loop(std::shared_ptr<Live> live) {
    for (;;) {
      Worker& worker = pick();
      auto [ec, socket] = co_await live->acceptor->async_accept(worker.io, net::use_result);
      if (ec == asio::error::operation_aborted || !live->acceptor->is_open()) co_return;  // closed: drain or reload
      if (ec) {
        // EMFILE and the like: wait a little instead of spinning.
        asio::steady_timer pause(io_, std::chrono::milliseconds(100));
        (void)co_await pause.async_wait(net::use_result);
        continue;
      }
      const auto& conf = live->snap->conf;
      std::error_code peer_ec;  // a peer already gone: the unspecified address, the session fails at once
      const auto client = socket.remote_endpoint(peer_ec).address();
      bool client_full = false;
      if (conf.max_connections_per_client > 0) {
        const std::lock_guard lock(live->per_client_mutex);
        const auto from_client = live->per_client.find(client);
        client_full = from_client != live->per_client.end() && from_client->second >= conf.max_connections_per_client;
      }
      if (live->open >= conf.max_connections || client_full) {
        shared_->metrics.refused(conf.name, live->open >= conf.max_connections ? "max_connections"
                                                                               : "max_connections_per_client");
        std::error_code ignored;
        socket.close(ignored);
        continue;
      }
      // Admitted: counted now, on the main loop, so that the next accept already sees it (the
      // session's Open counts it down wherever it ends).
      ++live->open;
      ++worker.open;
      ++shared_->open_total;
      {
        const std::lock_guard lock(live->per_client_mutex);
        ++live->per_client[client];
      }
      asio::co_spawn(worker.io, session(live, live->snap, worker, std::move(socket), client), asio::detached);
    }
  }

  // Open-session bookkeeping for one session, whatever way it ends (on its worker's thread).
  struct Open {
    std::shared_ptr<Shared> shared;
    std::shared_ptr<Live> live;
    Worker& worker;
    std::string name;
    asio::ip::address client;
    Open(std::shared_ptr<Shared> s, std::shared_ptr<Live> l, Worker& w, const std::string& listener, std::string_view mode,
         asio::ip::address from)
        : shared(std::move(s)), live(std::move(l)), worker(w), name(listener), client(from) {
      // The counts went up in accept_loop (admitted), so that the next accept sees them.
      shared->metrics.opened(name, mode);
    }
    ~Open() {
      --live->open;
      --worker.open;
      {
        const std::lock_guard lock(live->per_client_mutex);
        if (const auto it = live->per_client.find(client); it != live->per_client.end() && --it->second == 0) {
          live->per_client.erase(it);
        }
      }
      shared->metrics.closed(name);
      if (--shared->open_total == 0 && shared->draining) {
        asio::post(shared->io, [&io = shared->io] { io.stop(); });  // the last one out ends the drain
      }
    }
    Open(const Open&) = delete;
    Open& operator=(const Open&) = delete;
  };

  // `snap` is the listener's snapshot when the connection was accepted (read on the main loop).
  net::awaitable<void> session(std::shared_ptr<Live> live, std::shared_ptr<const Snapshot> snap, Worker& worker,
                               tcp::socket socket, asio::ip::address client) {
    const Open open(shared_, live, worker, snap->conf.name, snap->conf.mode == Mode::Client ? "client" : "server", client);
    std::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    const auto local = socket.local_endpoint(ec);
    const std::string who = fmt::format("{}:{}", peer.address().to_string(), peer.port());
    if (snap->conf.mode == Mode::Client) {
      co_await client_session(*snap, worker, std::move(socket), who);
    } else {
      co_await server_session(*snap, std::move(socket), peer, local, who);
    }
  }

  net::awaitable<void> client_session(const Snapshot& snap, Worker& worker, tcp::socket socket, const std::string& who) {
    const auto& l = snap.conf;
    std::optional<probe::Target> original;
    if (l.transparent) {
      auto dst = original_destination(socket, l.mark);
      if (dst) {
        auto t = probe::parse_target(
            fmt::format("{}://[{}]:{}", l.protocol.scheme, dst->address().to_string(), dst->port()));
        if (t) original = std::move(*t);
      }
      if (!original) {
        const std::string why = dst ? std::string("the original destination is not a target") : dst.error().detail;
        log(l.name, fmt::format("client {}: refused: transparent: {}", who, why));
        shared_->metrics.refused(l.name, "no-original-destination");
        net::Channel app(net::Socket(std::move(socket)), l.limits);
        (void)co_await app.write(unavailable(l.protocol.family, fmt::format("ostls: {}", why), "4.4.0"));
        co_return;
      }
    }
    const probe::Target& target = original ? *original : *snap.target;
    probe::Held held;
    probe::Options options = snap.options;
    options.held = &held;
    options.resolver = worker.resolver.get();
    options.store = worker.store ? &*worker.store : nullptr;
    const Outcome outcome = co_await probe::run(target, options);
    net::Channel app(net::Socket(std::move(socket)), l.limits);
    shared_->metrics.outcome(l.name, outcome.verdict, outcome.protection, outcome.auth_method, outcome.events);
    if (outcome.timing.handshake) shared_->metrics.handshake(l.name, *outcome.timing.handshake / 1000);
    if (outcome.tls && outcome.tls->resumed) shared_->metrics.resumed(l.name);
    if (outcome.verdict != Verdict::Ok || !held.channel) {
      log(l.name, fmt::format("client {}: refused: {}: {}", who, report::log_line(outcome),
                              outcome.failure ? outcome.failure->detail : std::string("no connection kept")));
      (void)co_await app.write(refusal(l.protocol.family, outcome));
      co_return;
    }
    if (auto w = co_await app.write(greeting_for_application(l.protocol.family, held.greeting)); !w) co_return;
    net::ServeReport relayed;
    co_await net::relay(app, *held.channel, relayed, l.idle_timeout);
    if (!relayed.error && held.channel->ssl() != nullptr) tls::SessionCache::keep_resumable(held.channel->ssl());
    std::string events;
    for (const auto& e : outcome.events) events += fmt::format("; {}: {}", name(e.type), e.detail);
    log(l.name, fmt::format("client {}: {}{}; relayed {} bytes up, {} down{}{}", who, report::log_line(outcome),
                            outcome.tls && outcome.tls->resumed ? "; TLS session resumed" : "",
                            relayed.to_backend, relayed.to_client, events,
                            relayed.error ? fmt::format(" ({})", relayed.error->detail) : ""));
  }

  net::awaitable<void> server_session(const Snapshot& snap, tcp::socket socket, const tcp::endpoint& peer,
                                      const tcp::endpoint& local, const std::string& who) {
    const auto& l = snap.conf;
    net::ServeParams params = snap.serve;
    if (l.proxy_protocol) {
      ProxyHeader h{.source = peer.address().to_string(),
                    .destination = local.address().to_string(),
                    .source_port = peer.port(),
                    .destination_port = local.port()};
      params.backend_preamble = [h](const net::ServeReport& r) mutable {
        if (r.facts.tls_established && r.version && r.cipher) h.tls = ProxyHeader::Tls{*r.version, *r.cipher};
        auto bytes = encode_v2(h);
        return bytes ? *bytes : std::string();
      };
    }
    const auto r = co_await net::serve(net::Socket(std::move(socket)), params);
    const bool tls = r.facts.tls_established;
    const Verdict verdict = r.error && !(r.error->code == Errc::Closed) ? Verdict::Fail : Verdict::Ok;
    shared_->metrics.outcome(l.name, verdict, tls ? Protection::Encrypted : Protection::Cleartext, AuthMethod::None, r.facts.events);
    if (r.handshake_ms) shared_->metrics.handshake(l.name, *r.handshake_ms / 1000);
    std::string events;
    for (const auto& e : r.facts.events) events += fmt::format("; {}: {}", name(e.type), e.detail);
    log(l.name, fmt::format("client {}: {}; relayed {} bytes to the backend, {} back{}{}", who,
                            tls ? fmt::format("TLS {} {} ({})", r.version.value_or("?"), r.cipher.value_or("?"),
                                              l.implicit_tls ? "implicit" : "STARTTLS")
                                : std::string("cleartext"),
                            r.to_backend, r.to_client, events, r.error ? fmt::format("; ended: {}", r.error->detail) : ""));
  }

  // GET /metrics → the exposition; anything else 404. One request per connection.
  net::awaitable<void> metrics_loop() {
    for (;;) {
      auto [ec, socket] = co_await metrics_acceptor_->async_accept(net::use_result);
      if (ec == asio::error::operation_aborted || !metrics_acceptor_->is_open()) co_return;
      if (ec) continue;
      asio::co_spawn(io_, metrics_request(std::move(socket)), asio::detached);
    }
  }

  net::awaitable<void> metrics_request(tcp::socket socket) {
    asio::streambuf request(8192);
    asio::steady_timer timeout(io_, std::chrono::seconds(5));
    auto read = co_await (asio::async_read_until(socket, request, "\r\n\r\n", net::use_result) ||
                          timeout.async_wait(net::use_result));
    if (read.index() != 0 || std::get<0>(std::get<0>(read))) co_return;
    std::string head(asio::buffers_begin(request.data()), asio::buffers_end(request.data()));
    const bool ok = head.starts_with("GET /metrics ") || head.starts_with("GET /metrics?");
    const std::string body = ok ? shared_->metrics.render() : std::string("not found\n");
    const std::string response = fmt::format(
        "HTTP/1.1 {}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\n"
        "Connection: close\r\n\r\n{}",
        ok ? "200 OK" : "404 Not Found", body.size(), body);
    (void)co_await asio::async_write(socket, asio::buffer(response), net::use_result);
  }

  net::awaitable<void> signal_loop() {
    for (;;) {
      auto [ec, sig] = co_await signals_.async_wait(net::use_result);
      if (ec) co_return;
      if (sig == SIGHUP) {
        reload();
        continue;
      }
      drain(sig);
      co_return;
    }
  }

  void drain(int sig) {
    shared_->draining = true;
    const std::size_t open = shared_->open_total;
    log("proxy", fmt::format("signal {}: no new sessions; draining {} open session{} (up to {} s)", sig, open,
                             open == 1 ? "" : "s",
                             std::chrono::duration<double>(config_.drain_timeout).count()));
    std::error_code ignored;
    for (auto& [name, live] : listeners_) live->acceptor->close(ignored);
    if (metrics_acceptor_) metrics_acceptor_->close(ignored);
    if (shared_->open_total == 0) {
      io_.stop();
      return;
    }
    drain_timer_ = std::make_unique<asio::steady_timer>(io_, config_.drain_timeout);
    drain_timer_->async_wait([this](const std::error_code& e) {
      if (e) return;
      const std::size_t left = shared_->open_total;
      log("proxy", fmt::format("drain timeout: ending {} session{}", left, left == 1 ? "" : "s"));
      io_.stop();
    });
  }

  // SIGHUP: the configuration file again. Everything is prepared first; one failure keeps the
  // running configuration whole. Open sessions keep the snapshot they started with.
  void reload() {
    auto next = load(config_.path);
    if (!next) {
      log("proxy", fmt::format("SIGHUP: configuration not reloaded: {}", next.error().detail));
      return;
    }
    if (next->store != config_.store || next->dns_config != config_.dns_config ||
        next->metrics.has_value() != config_.metrics.has_value() ||
        (next->metrics && next->metrics->to_string() != config_.metrics->to_string())) {
      log("proxy", "SIGHUP: store, dns_config and metrics changes take effect at the next start");
    }
    std::map<std::string, std::shared_ptr<Snapshot>> snaps;
    for (const auto& l : next->listeners) {
      auto s = make_snapshot(*next, l, services_);
      if (!s) {
        log("proxy", fmt::format("SIGHUP: configuration not reloaded: {}", s.error().detail));
        return;
      }
      snaps[l.name] = std::move(*s);
    }
    std::error_code ignored;
    for (auto it = listeners_.begin(); it != listeners_.end();) {
      const auto found = snaps.find(it->first);
      if (found != snaps.end() && found->second->conf.listen.to_string() == it->second->snap->conf.listen.to_string()) {
        it->second->snap = found->second;  // same address: new sessions get the new settings
        snaps.erase(found);
        ++it;
        continue;
      }
      it->second->acceptor->close(ignored);  // removed, or moved to another address
      log(it->first, "SIGHUP: listener closed (open sessions go on)");
      it = listeners_.erase(it);
    }
    for (auto& [name, snap] : snaps) {
      auto live = std::make_shared<Live>();
      live->snap = snap;
      if (auto a = open_acceptor(*live, snap->conf.listen); !a) {
        log(name, fmt::format("SIGHUP: {}", a.error().detail));
        continue;
      }
      listeners_[name] = live;
      log(name, fmt::format("SIGHUP: listening on {}", snap->conf.listen.to_string()));
      asio::co_spawn(io_, accept_loop(live), asio::detached);
    }
    config_ = std::move(*next);
    log("proxy", fmt::format("SIGHUP: configuration reloaded ({} listener{})", listeners_.size(),
                             listeners_.size() == 1 ? "" : "s"));
  }

  asio::io_context& io_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  Config config_;
  Services services_;
  asio::signal_set signals_;
  std::shared_ptr<Shared> shared_;
  std::map<std::string, std::shared_ptr<Live>> listeners_;
  std::unique_ptr<tcp::acceptor> metrics_acceptor_;
  std::unique_ptr<asio::steady_timer> drain_timer_;
};

Result<std::optional<store::Store>> open_store(const Config& c) {
  if (c.store == "none") return std::optional<store::Store>{};
  auto s = store::Store::open_or_default(c.store.value_or(""));
  if (!s) return unexpected<Error>(s.error());
  return std::optional<store::Store>{std::move(*s)};
}

bool has_client_mode(const Config& c) {
  return std::any_of(c.listeners.begin(), c.listeners.end(), [](const Listener& l) { return l.mode == Mode::Client; });
}

}  // namespace

Result<void> check(const Config& config) {
  asio::io_context io;
  std::unique_ptr<dns::Resolver> resolver;
  if (has_client_mode(config)) {
    auto r = dns::Resolver::create(io.get_executor(), {.config_file = config.dns_config});
    if (!r) return fail(Errc::Usage, Fault::Config, fmt::format("{}: dns_config: {}", config.path, r.error().detail));
    resolver = std::move(*r);
  }
  for (const auto& l : config.listeners) {
    auto s = make_snapshot(config, l, {});
    if (!s) return unexpected<Error>(s.error());
  }
  return {};
}

Result<void> run(const Config& config, const RunOptions& options) {
  // A client that goes away mid-write must not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  Loop io(1);  // the main loop: acceptors, signals, reloads, metrics
  tls::ClientContextCache contexts;
  tls::SessionCache sessions;
  const unsigned count = config.workers != 0 ? config.workers : std::max(1U, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < count; ++i) {
    auto w = std::make_unique<Worker>();
    if (has_client_mode(config)) {
      auto r = dns::Resolver::create(w->io.get_executor(), {.config_file = config.dns_config});
      if (!r) return fail(Errc::Usage, Fault::Config, fmt::format("{}: dns_config: {}", config.path, r.error().detail));
      w->resolver = std::move(*r);
      auto s = open_store(config);
      if (!s) return fail(Errc::Usage, Fault::Config, fmt::format("{}: store: {}", config.path, s.error().detail));
      w->store = std::move(*s);
    }
    workers.push_back(std::move(w));
  }
  Runtime rt(io, workers, config, {.contexts = &contexts, .sessions = &sessions, .verbose = options.verbose});
  if (auto s = rt.start(); !s) return s;
  for (auto& w : workers) w->thread = std::thread([&loop = w->io] { loop.run(); });
  io.run();
  // Drained (or the drain timed out): the workers stop; sessions still open end with their loops.
  for (auto& w : workers) {
    w->guard.reset();
    w->io.stop();
    w->thread.join();
  }
  // Pending handlers go first, while everything they hold is alive: the main loop's (an accept
  // aborted by the drain holds a socket of a worker's loop, so it must not outlive the workers),
  // then the sessions still open after a drain timeout, before the Runtime, the workers'
  // resolvers and stores and the caches they use are destroyed.
  io.shutdown();
  for (auto& w : workers) w->io.shutdown();
  return {};
}

}  // namespace ostls::proxy
