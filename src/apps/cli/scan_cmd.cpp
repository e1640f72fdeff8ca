// `ostls scan [options] [TARGET...]`: probe many targets at once (scan/scanner.hpp), one JSON line
// per target in the schema of `ostls probe --json`, a progress line and a summary on stderr;
// `ostls scan --summarize FILE.jsonl` for the summary of an earlier run.
// Exit status: 0 every target was scanned (whatever their verdicts: they are the data), 1 some
// input lines were not targets (each reported on stderr), 2 usage or configuration error,
// 130 / 143 stopped by SIGINT / SIGTERM (the output holds only complete lines; --resume goes on).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "apps/cli/commands.hpp"
#include "apps/cli/probe_opts.hpp"
#include "scan/html.hpp"
#include "scan/output.hpp"
#include "scan/progress.hpp"
#include "scan/scanner.hpp"
#include "scan/source.hpp"
#include "scan/summary.hpp"

namespace ostls::cli {

struct ScanArgs {
  std::vector<std::string> targets;
  ProbeFlags flags;
  std::string input, output, shard, html;
  std::vector<std::string> summarize;  // --summarize FILE…
  bool resume = false, json = false, quiet = false;
  std::size_t concurrency = 100, per_host = 10;
  double rate = 0;
};

namespace {

int usage(const std::string& message) {
  fmt::print(stderr, "ostls scan: {}\n", message);
  return exit_usage;
}

// Each probe holds a socket (two during an R2 retry); the soft limit is often 1024.
void raise_descriptor_limit(std::size_t concurrency) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t want = static_cast<rlim_t>(concurrency) * 2 + 64;
  if (rl.rlim_cur >= want) return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
  (void)::setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want) {
    fmt::print(stderr, "ostls scan: warning: only {} file descriptors for --concurrency {}\n", rl.rlim_cur,
               concurrency);
  }
}

void print_summary(const scan::Summary& s, bool json, std::FILE* to) {
  if (json) {
    fmt::print(to, "{}\n", scan::to_json(s).dump());
  } else {
    fmt::print(to, "{}", scan::to_text(s));
  }
  std::fflush(to);
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  return std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0 ? text : "";
}

// --html: the report of `from` (a scan's JSON Lines files: one, or the shards of one scan), with
// `summary` already counted.
Result<void> write_html(const std::string& path, const std::vector<std::string>& from, const scan::Summary& summary) {
  scan::HtmlReport report(std::chrono::system_clock::now());
  for (const auto& file : from) {
    auto r = scan::read_outcomes(file, [&](const nlohmann::json& o) { report.add(o); }, [](std::uint64_t) {});
    if (!r) return r;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << scan::render_html(summary, report, fmt::format("ostls scan: {}", fmt::join(from, " + ")), utc_now());
  out.close();
  if (!out) return fail(Errc::Io, Fault::Local, fmt::format("cannot write {}", path));
  return {};
}

// --summarize FILE…: one summary of every file (the shards of one scan: their union).
int run_summarize(const ScanArgs& args) {
  scan::Summary summary;
  for (const auto& file : args.summarize) {
    auto r = scan::read_outcomes(
        file, [&](const nlohmann::json& o) { summary.add(o); },
        [&](std::uint64_t line) {
          summary.add_unreadable();
          fmt::print(stderr, "ostls scan: {}:{}: not an outcome (JSON object), not counted\n", file, line);
        });
    if (!r) return usage(r.error().detail);
  }
  print_summary(summary, args.json, stdout);
  if (!args.html.empty()) {
    if (std::find(args.summarize.begin(), args.summarize.end(), "-") != args.summarize.end()) {
      return usage("--html with --summarize needs files, not standard input");
    }
    if (auto h = write_html(args.html, args.summarize, summary); !h) return usage(h.error().detail);
  }
  return summary.unreadable == 0 ? exit_ok : exit_fail;
}

// --output FILE (with --resume: its complete lines counted in `summary`), or standard output.
Result<scan::Output> open_output(const ScanArgs& args, scan::Summary& summary) {
  if (args.output.empty()) return scan::Output::standard_output();
  auto o = scan::Output::open(args.output, args.resume, [&](const nlohmann::json& j) { summary.add(j); });
  if (o && o->resumed.cut_bytes > 0 && !args.quiet) {
    fmt::print(stderr, "ostls scan: {}: cut off a partial last line ({} bytes) left by an interrupted write\n",
               args.output, o->resumed.cut_bytes);
  }
  return o;
}

// The progress line's total: the command line's targets plus, for a regular --input file, its
// lines (read once more, first); nullopt when the input is a pipe.
std::optional<std::uint64_t> input_total(const ScanArgs& args, const std::function<bool(std::string_view)>& counts) {
  if (args.input == "-") return std::nullopt;
  std::uint64_t total = 0;
  for (const auto& t : args.targets) total += counts(t) ? 1U : 0U;
  if (args.input.empty()) return total;
  auto n = scan::count_targets(args.input, counts);
  if (!n) return std::nullopt;
  return total + *n;
}

struct RunEnd {
  Result<void> result;
  int stopped_by = 0;  // the signal that stopped the scan, 0 if none
};

// Runs the scan to its end. First SIGINT/SIGTERM: stop launching, let the probes in flight finish
// and be written. Second: leave at once; the output holds complete lines only, --resume redoes
// the rest.
RunEnd run_until_done(asio::io_context& io, scan::Scanner& scanner, scan::Source& source, scan::Progress& progress) {
  RunEnd end;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::function<void(const std::error_code&, int)> on_signal = [&](const std::error_code& ec, int signo) {
    if (ec) return;
    if (end.stopped_by != 0) {
      progress.message("interrupted again: abandoning the probes in flight");
      std::_Exit(128 + signo);
    }
    end.stopped_by = signo;
    progress.message(fmt::format("stopping: {} probes in flight finish first (interrupt again to abandon them; "
                                 "--resume continues)",
                                 scanner.counters().in_flight));
    scanner.stop();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        end.result = co_await scanner.run(source);
        signals.cancel();
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);  // a bug: surface it in main()
      });
  io.run();
  return end;
}

}  // namespace

std::shared_ptr<ScanArgs> add_scan(CLI::App& app) {
  auto args = std::make_shared<ScanArgs>();
  auto* cmd = app.add_subcommand("scan", "Probe many targets at once: JSON Lines, progress, summary");
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("targets", args->targets, "PROTO://host[:port] or PROTO://[host][:port] (before those of --input)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--input", args->input, "Targets, one per line (# comments, blank lines skipped); - for stdin");
  cmd->add_option("--output", args->output, "JSON Lines file (default: standard output)");
  cmd->add_flag("--resume", args->resume, "Continue --output FILE: skip the targets it already holds")
      ->needs("--output");
  cmd->add_option("--concurrency", args->concurrency, "Probes in flight at most")->check(CLI::Range(1, 100000));
  cmd->add_option("--rate", args->rate, "Probes started per second at most (default: no limit)")
      ->check(CLI::Range(0.001, 1e6));
  cmd->add_option("--per-host-concurrency", args->per_host,
                  "Probes of one target host at once (the host as written; 0: no limit)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--shard", args->shard, "I/N: only the targets of shard I of N (1 <= I <= N), split by a hash of the target");
  cmd->add_option("--summarize", args->summarize,
                  "Print the summary of an earlier scan's JSON Lines file (- for stdin) and exit; repeatable: "
                  "the union of several files, e.g. the shards of one scan. Reads these files only, never the "
                  "store (it holds pins and memory, not outcomes)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->excludes("--input", "--output", "--resume", "--shard");
  cmd->add_flag("--json", args->json, "Summary as one JSON object");
  cmd->add_option("--html", args->html,
                  "Also write a self-contained HTML report (charts, sortable table) of the whole --output file "
                  "or of --summarize's files");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line and no summary on stderr");
  add_probe_flags(*cmd, args->flags);
  return args;
}

int run_scan(const ScanArgs& args) {
  if (!args.summarize.empty()) {
    if (!args.targets.empty()) return usage("--summarize takes no targets");
    return run_summarize(args);
  }
  if (args.targets.empty() && args.input.empty()) return usage("no targets: give TARGET… or --input FILE (- for stdin)");
  if (!args.html.empty() && args.output.empty()) return usage("--html needs --output FILE (the report is built from it)");
  const ProbeFlags& flags = args.flags;
  ProbeSetup setup;
  if (auto c = configure(flags, setup); !c) return usage(c.error().detail);
  std::optional<scan::Shard> shard;
  if (!args.shard.empty()) {
    auto s = scan::parse_shard(args.shard);
    if (!s) return usage(s.error().detail);
    shard = *s;
  }
  const policy::PolicyMap* map = setup.map ? &*setup.map : nullptr;
  scan::MakeTarget make = [&flags, map](std::string_view text) -> Result<probe::Target> {
    auto t = make_target(flags, text);
    if (t && map != nullptr) {
      if (auto c = check_map_level(flags, *map, *t); !c) return unexpected<Error>(c.error());
    }
    return t;
  };

  // Earlier lines of a resumed output count in the summary: it describes the whole file.
  scan::Summary summary;
  auto output = open_output(args, summary);
  if (!output) return usage(output.error().detail);

  std::signal(SIGPIPE, SIG_IGN);  // a closed output pipe is a write error, reported
  raise_descriptor_limit(args.concurrency);
  asio::io_context io;
  auto source = scan::Source::open(io.get_executor(), args.targets, args.input);
  if (!source) return usage(source.error().detail);
  scan::Progress progress(::isatty(STDERR_FILENO) == 1, args.quiet);
  tls::ClientContextCache contexts;  // one SSL_CTX per policy, not one per target
  setup.options.contexts = &contexts;
  scan::Scanner scanner(io.get_executor(),
                        {.concurrency = args.concurrency,
                         .rate = args.rate,
                         .per_host = args.per_host,
                         .shard = shard,
                         .dns = {.config_file = flags.dns_config},
                         .dns_now = !flags.dns_config.empty()},
                        setup.options, make, *output, summary, progress);
  if (auto total = input_total(args, [&](std::string_view text) {
        auto t = make(text);
        return !t || !shard || scan::in_shard(*t, *shard);  // bad lines are processed (and counted) too
      })) {
    scanner.set_total(*total);
  }

  const auto end = run_until_done(io, scanner, **source, progress);
  if (!end.result) return usage(end.result.error().detail);
  if (!args.quiet) print_summary(summary, args.json, stderr);
  if (!args.html.empty()) {
    if (auto h = write_html(args.html, {args.output}, summary); !h) return usage(h.error().detail);
  }
  if (end.stopped_by != 0) return 128 + end.stopped_by;
  return scanner.counters().bad == 0 ? exit_ok : exit_fail;
}

}  // namespace ostls::cli
