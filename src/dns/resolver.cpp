#include "dns/resolver.hpp"

#include <unistd.h>

#include <unbound.h>

#include <map>
#include <optional>

#include <asio/co_spawn.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/format.h>

namespace ostls::dns {
namespace {

struct Pending {
  explicit Pending(const asio::any_io_executor& ex) : signal(ex) {}
  asio::steady_timer signal;  // cancelled by the callback: the answer is there
  std::optional<Answer> answer;
  int id = 0;
};

Rcode rcode_of(int rcode) {
  switch (rcode) {
    case 0: return Rcode::NoError;
    case 2: return Rcode::ServFail;
    case 3: return Rcode::NxDomain;
    case 5: return Rcode::Refused;
    default: return Rcode::Other;
  }
}

// The one place ub_result is mapped (STYLE: map external tri-states once, at the boundary).
Answer map_result(int err, ub_result* r, const std::string& qname, std::uint16_t qtype) {
  Answer a;
  a.qname = normalize_name(qname);
  a.qtype = qtype;
  a.canonical = a.qname;
  if (err != 0 || r == nullptr) {
    a.rcode = Rcode::ServFail;
    a.why_bogus = fmt::format("resolver error: {}", ub_strerror(err));
    return a;
  }
  a.rcode = rcode_of(r->rcode);
  a.security = r->bogus ? Security::Bogus : r->secure ? Security::Secure : Security::Insecure;
  if (r->why_bogus) a.why_bogus = r->why_bogus;
  if (r->canonname) a.canonical = normalize_name(r->canonname);
  a.ttl = r->ttl > 0 ? static_cast<std::uint32_t>(r->ttl) : 0;
  if (r->havedata && r->data) {
    for (int i = 0; r->data[i] != nullptr; ++i) {
      a.rdata.emplace_back(r->data[i], static_cast<std::size_t>(r->len[i]));
    }
  }
  return a;
}

}  // namespace

struct Resolver::State {
  State(const asio::any_io_executor& ex, ub_ctx* c) : ctx(c), fd(ex) {}
  ~State() {
    std::error_code ignored;
    fd.close(ignored);
    ub_ctx_delete(ctx);
  }
  ub_ctx* ctx;
  asio::posix::stream_descriptor fd;  // a dup() of ub_fd(ctx)
  std::map<Pending*, std::shared_ptr<Pending>> pending;
  bool reading = false;
  bool closed = false;
};

namespace {

void on_result(void* data, int err, ub_result* result) {
  auto* p = static_cast<Pending*>(data);
  p->answer = map_result(err, result, result && result->qname ? result->qname : "",
                         result ? static_cast<std::uint16_t>(result->qtype) : 0);
  ub_resolve_free(result);
  p->signal.cancel();
}

net::awaitable<void> read_results(std::shared_ptr<Resolver::State> s) {
  while (!s->closed && !s->pending.empty()) {
    auto [ec] = co_await s->fd.async_wait(asio::posix::stream_descriptor::wait_read, net::use_result);
    if (ec || s->closed) break;
    ub_process(s->ctx);
    std::erase_if(s->pending, [](const auto& kv) { return kv.second->answer.has_value(); });
  }
  s->reading = false;
}

}  // namespace

Result<std::unique_ptr<Resolver>> Resolver::create(const asio::any_io_executor& ex, const ResolverConfig& config) {
  ub_ctx* ctx = ub_ctx_create();
  if (ctx == nullptr) return fail(Errc::Usage, Fault::Local, "cannot create the libunbound context");
  auto state = std::make_shared<State>(ex, ctx);
  // One background thread for the whole context instead of a forked process.
  if (int r = ub_ctx_async(ctx, 1); r != 0) {
    return fail(Errc::Usage, Fault::Local, fmt::format("libunbound: {}", ub_strerror(r)));
  }
  if (!config.config_file.empty()) {
    if (int r = ub_ctx_config(ctx, config.config_file.c_str()); r != 0) {
      return fail(Errc::Usage, Fault::Config,
                  fmt::format("cannot use DNS configuration {}: {}", config.config_file, ub_strerror(r)));
    }
  } else if (int r = ub_ctx_add_ta_file(ctx, config.root_anchor.c_str()); r != 0) {
    return fail(Errc::Usage, Fault::Config,
                fmt::format("cannot read the DNSSEC root trust anchor {}: {}", config.root_anchor, ub_strerror(r)));
  }
  const int fd = ::dup(ub_fd(ctx));
  if (fd < 0) return fail(Errc::Usage, Fault::Local, "libunbound has no descriptor to wait on");
  state->fd.assign(fd);
  return std::unique_ptr<Resolver>(new Resolver(std::move(state)));
}

Resolver::~Resolver() {
  state_->closed = true;
  for (auto& [raw, p] : state_->pending) ub_cancel(state_->ctx, p->id);
  state_->pending.clear();
  std::error_code ignored;
  state_->fd.cancel(ignored);
}

std::size_t Resolver::in_flight() const { return state_->pending.size(); }

net::awaitable<Answer> Resolver::query(std::string name, std::uint16_t type,
                                       std::chrono::steady_clock::time_point deadline) {
  auto s = state_;
  auto p = std::make_shared<Pending>(s->fd.get_executor());
  p->signal.expires_at(deadline);
  const int r = ub_resolve_async(s->ctx, name.c_str(), type, 1 /* IN */, p.get(), on_result, &p->id);
  if (r != 0) {
    Answer a;
    a.qname = normalize_name(name);
    a.qtype = type;
    a.rcode = Rcode::ServFail;
    a.why_bogus = fmt::format("resolver error: {}", ub_strerror(r));
    co_return a;
  }
  s->pending.emplace(p.get(), p);
  if (!s->reading) {
    s->reading = true;
    asio::co_spawn(s->fd.get_executor(), read_results(s), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);  // a bug: surface it in main()
    });
  }
  (void)co_await p->signal.async_wait(net::use_result);
  if (!p->answer) {
    ub_cancel(s->ctx, p->id);
    s->pending.erase(p.get());
    if (s->pending.empty()) {
      std::error_code ignored;
      s->fd.cancel(ignored);  // nothing left to read for: let the reader end
    }
    Answer a;
    a.qname = normalize_name(name);
    a.qtype = type;
    a.rcode = Rcode::Timeout;
    a.why_bogus = "DNS deadline expired";
    co_return a;
  }
  Answer a = std::move(*p->answer);
  a.qname = normalize_name(name);
  a.qtype = type;
  if (a.canonical.empty()) a.canonical = a.qname;
  co_return a;
}

}  // namespace ostls::dns
