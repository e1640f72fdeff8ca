#include "scan/scanner.hpp"

#include <algorithm>
#include <cctype>
#include <exception>

#include <asio/co_spawn.hpp>
#include <asio/this_coro.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "report/json.hpp"

namespace ostls::scan {
namespace {

std::string host_key(const probe::Target& t) {
  std::string h = t.host;
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return h;
}

}  // namespace

Scanner::Scanner(const asio::any_io_executor& ex, Config config, probe::Options options, MakeTarget make_target,
                 Output& output, Summary& summary, Progress& progress)
    : ex_(ex),
      config_(std::move(config)),
      options_(std::move(options)),
      make_target_(std::move(make_target)),
      output_(output),
      summary_(summary),
      progress_(progress),
      slots_(ex, std::max<std::size_t>(config_.concurrency, 1)),
      pace_timer_(ex),
      idle_timer_(ex),
      tick_timer_(ex) {}

net::awaitable<Result<void>> Scanner::run(Source& source) {
  source_ = &source;
  started_ = std::chrono::steady_clock::now();
  next_launch_ = started_;
  asio::co_spawn(ex_, tick(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);  // a bug: surface it in main()
  });
  Result<void> result;
  auto ensure_resolver = [&]() -> Result<void> {
    if (resolver_) return {};
    auto r = dns::Resolver::create(ex_, config_.dns);
    if (!r) return unexpected<Error>(r.error());
    resolver_ = std::move(*r);
    options_.resolver = resolver_.get();
    return {};
  };
  if (config_.dns_now) result = ensure_resolver();

  while (result && !stopping_) {
    auto next = co_await source.next();
    if (!next) break;
    auto t = admit(*next);
    if (!t) continue;
    // Every host name goes through the validating resolver (DNSSEC state for DANE, R9), as in
    // `ostls probe`; IP literals need none.
    if (!t->is_ip_literal || options_.srv) {
      result = ensure_resolver();
      if (!result) break;
    }
    co_await slots_.acquire();
    if (stopping_) {
      slots_.release();
      break;
    }
    co_await pace();
    if (stopping_) {
      slots_.release();
      break;
    }
    ++counters_.in_flight;
    asio::co_spawn(ex_, probe_one(std::move(*t)), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);  // a bug (probe::run reports network conditions in the Outcome)
    });
  }
  input_done_ = true;
  while (counters_.in_flight > 0) {
    idle_timer_.expires_at(std::chrono::steady_clock::time_point::max());
    (void)co_await idle_timer_.async_wait(net::use_result);
  }
  tick_timer_.cancel();
  progress_.show(counters_, std::chrono::steady_clock::now() - started_);
  progress_.end();
  if (result && write_error_) result = unexpected<Error>(*write_error_);
  co_return result;
}

std::optional<probe::Target> Scanner::admit(const SourceLine& next) {
  if (next.line.too_long) {
    ++counters_.bad;
    progress_.message(fmt::format("{}: line longer than {} bytes, skipped", next.where, limits::max_input_line));
    return std::nullopt;
  }
  const auto text = target_text(next.line.text);
  if (!text) return std::nullopt;  // blank or comment
  auto t = make_target_(*text);
  if (!t) {
    ++counters_.bad;
    progress_.message(fmt::format("{}: {}", next.where, t.error().detail));
    return std::nullopt;
  }
  if (config_.shard && !in_shard(*t, *config_.shard)) return std::nullopt;
  if (output_.resumed.done.contains(t->text)) {
    ++counters_.skipped;
    return std::nullopt;
  }
  return std::move(*t);
}

net::awaitable<void> Scanner::pace() {
  if (config_.rate <= 0) co_return;
  const auto now = std::chrono::steady_clock::now();
  if (next_launch_ > now) {
    pace_timer_.expires_at(next_launch_);
    (void)co_await pace_timer_.async_wait(net::use_result);  // cancelled by stop()
  }
  const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(1.0 / config_.rate));
  next_launch_ = std::max(next_launch_, now) + interval;
}

net::awaitable<void> Scanner::tick() {
  for (;;) {
    tick_timer_.expires_after(progress_.interval());
    auto [ec] = co_await tick_timer_.async_wait(net::use_result);
    if (ec) co_return;
    progress_.show(counters_, std::chrono::steady_clock::now() - started_);
  }
}

Gate* Scanner::host_gate(const std::string& host) {
  if (config_.per_host == 0) return nullptr;
  auto& g = hosts_[host];
  if (!g) g = std::make_unique<Gate>(ex_, config_.per_host);
  return g.get();
}

void Scanner::release_host(const std::string& host) {
  const auto it = hosts_.find(host);
  if (it == hosts_.end()) return;
  it->second->release();
  if (it->second->idle()) hosts_.erase(it);  // memory: only hosts with probes in flight or waiting
}

net::awaitable<void> Scanner::probe_one(probe::Target t) {
  const std::string host = host_key(t);
  // Releases the slots however this coroutine ends; the last one out wakes run().
  struct Leave {
    Scanner& s;
    const std::string& host;
    bool holds_host = false;
    ~Leave() {
      if (holds_host) s.release_host(host);
      s.slots_.release();
      --s.counters_.in_flight;
      if (s.counters_.in_flight == 0 && s.input_done_) s.idle_timer_.cancel();
    }
  } leave{*this, host};
  if (Gate* g = host_gate(host)) {
    co_await g->acquire();
    leave.holds_host = true;
  }
  if (stopping_) co_return;  // waited for its host while the scan was stopped: never started
  const Outcome o = co_await probe::run(t, options_);
  finished(o);
}

void Scanner::finished(const Outcome& o) {
  const auto j = report::to_json(o);
  if (!write_error_) {
    if (auto w = output_.write_line(j.dump()); !w) {
      write_error_ = w.error();
      progress_.message(fmt::format("{}; stopping", w.error().detail));
      stop();
      return;
    }
  }
  summary_.add(j);
  ++counters_.done;
  switch (o.protection) {
    case Protection::Cleartext: ++counters_.cleartext; break;
    case Protection::Encrypted: ++counters_.encrypted; break;
    case Protection::Authenticated: ++counters_.authenticated; break;
  }
  switch (o.verdict) {
    case Verdict::Ok: ++counters_.ok; break;
    case Verdict::Fail: ++counters_.fail; break;
    case Verdict::Defer: ++counters_.defer; break;
  }
}

void Scanner::stop() {
  if (stopping_) return;
  stopping_ = true;
  if (source_ != nullptr) source_->cancel();
  pace_timer_.cancel();
  slots_.open();
  for (auto& [host, gate] : hosts_) gate->open();
}

}  // namespace ostls::scan
