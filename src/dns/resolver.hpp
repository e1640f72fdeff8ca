// The validating DNS resolver: libunbound, DNSSEC validated by libunbound itself, driven by the
// Asio event loop through ub_fd() (no thread per query: one reader waits on the descriptor and
// ub_process() completes every finished query). Every Answer carries its security state.
// Configuration: the system root trust anchor by default, or an unbound.conf-syntax file
// (--dns-config: stub-zone, forward-zone, trust-anchor-file, …) handed to ub_ctx_config().
// libunbound is used only here.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <asio/any_io_executor.hpp>

#include "core/error.hpp"
#include "dns/answer.hpp"
#include "net/coro.hpp"

namespace ostls::dns {

struct ResolverConfig {
  std::string config_file;                                  // unbound.conf syntax; empty: defaults
  std::string root_anchor = "/usr/share/dns/root.key";      // used when config_file is empty
};

class Resolver {
public:
  [[nodiscard]] static Result<std::unique_ptr<Resolver>> create(const asio::any_io_executor& ex,
                                                                const ResolverConfig& config);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Never throws for DNS conditions: a failed or timed-out lookup is an Answer with rcode
  // ServFail / Timeout. `deadline` bounds this query.
  [[nodiscard]] net::awaitable<Answer> query(std::string name, std::uint16_t type,
                                             std::chrono::steady_clock::time_point deadline);

  // Queries under way (for tests and metrics).
  [[nodiscard]] std::size_t in_flight() const;

  struct State;  // shared with the descriptor reader, which may outlive this object briefly

private:
  explicit Resolver(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace ostls::dns
