// `ostls scan`: many probe::run() stories at once on one io_context (C++20 coroutines, one
// thread). The input is streamed line by line; each target is parsed, filtered (--shard,
// --resume), then launched when a global slot is free (--concurrency), at the pace of --rate,
// and probed when its host has a free slot (--per-host-concurrency; the host as written in the
// target — the MX hosts of a mail domain are only known inside the probe). Each outcome is
// written as one JSON line (report::to_json, exactly `ostls probe --json`) the moment it is
// complete, and added to the Summary. Memory is bounded by the concurrency, not the input size.
// stop() (the first Ctrl-C/SIGTERM) stops launching; the probes in flight finish and are written.
// One shared validating resolver (dns::Resolver, created at the first target that needs DNS):
// libunbound's own cache — message and RRset caches keyed by name, honouring TTLs and keeping each
// answer's validation state — serves repeated lookups across targets, so no cache of ours sits on
// top of it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include "dns/resolver.hpp"
#include "net/coro.hpp"
#include "probe/probe.hpp"
#include "scan/gate.hpp"
#include "scan/output.hpp"
#include "scan/progress.hpp"
#include "scan/shard.hpp"
#include "scan/source.hpp"
#include "scan/summary.hpp"

namespace ostls::scan {

struct Config {
  std::size_t concurrency = 100;        // probes in flight at most
  double rate = 0;                      // launches per second; 0: as fast as slots free up
  std::size_t per_host = 0;             // probes of one host at once; 0: no limit
  std::optional<Shard> shard;
  dns::ResolverConfig dns;
  bool dns_now = false;                 // --dns-config given: create the resolver at once
};

// One target line's text → a Target with the command line's --protocol, --implicit,
// --starttls-only, --port and --srv applied and checked; errors are the line's, not fatal.
using MakeTarget = std::function<Result<probe::Target>(std::string_view text)>;

class Scanner {
public:
  // `options` is copied; its resolver is set by the scanner.
  Scanner(const asio::any_io_executor& ex, Config config, probe::Options options, MakeTarget make_target,
          Output& output, Summary& summary, Progress& progress);

  // Runs the whole scan; returns when the input is exhausted (or stop() was called) and every
  // probe launched has been written. A configuration error found on the way (the resolver cannot
  // be created) ends the scan early and is returned.
  [[nodiscard]] net::awaitable<Result<void>> run(Source& source);

  void stop();
  [[nodiscard]] bool stopping() const { return stopping_; }
  [[nodiscard]] const Counters& counters() const { return counters_; }
  void set_total(std::uint64_t total) { counters_.total = total; }

private:
  // The target of one input line, or nullopt: blank, comment, bad (reported and counted), another
  // shard's, or already in the output (--resume).
  std::optional<probe::Target> admit(const SourceLine& line);
  net::awaitable<void> probe_one(probe::Target t);
  net::awaitable<void> pace();
  net::awaitable<void> tick();
  void finished(const Outcome& o);
  Gate* host_gate(const std::string& host);
  void release_host(const std::string& host);

  asio::any_io_executor ex_;
  Config config_;
  probe::Options options_;
  MakeTarget make_target_;
  Output& output_;
  Summary& summary_;
  Progress& progress_;
  Source* source_ = nullptr;
  std::unique_ptr<dns::Resolver> resolver_;
  Gate slots_;
  std::unordered_map<std::string, std::unique_ptr<Gate>> hosts_;  // only hosts with probes
  asio::steady_timer pace_timer_, idle_timer_, tick_timer_;
  std::chrono::steady_clock::time_point next_launch_{}, started_{};
  Counters counters_;
  bool stopping_ = false, input_done_ = false;
  std::optional<Error> write_error_;
};

}  // namespace ostls::scan
