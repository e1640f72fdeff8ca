// `ostls probe [options] TARGET...`: one Outcome per target, as the human line + reason block
// or as JSON Lines; exit status 0 (all met their policy), 1 (some failed), 75 (some deferred,
// none failed), 2 (usage or configuration error).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/cli/commands.hpp"
#include "apps/cli/probe_opts.hpp"
#include "probe/probe.hpp"
#include "report/json.hpp"
#include "report/log_line.hpp"

namespace ostls::cli {

struct ProbeArgs {
  std::vector<std::string> targets;
  ProbeFlags flags;
  bool json = false, verbose = false;
};

std::string default_helo() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

namespace {

int usage(const std::string& message) {
  fmt::print(stderr, "ostls probe: {}\n", message);
  return exit_usage;
}

void print_transcript(net::Direction d, std::string_view line) {
  const char* mark = d == net::Direction::Received ? "<" : d == net::Direction::Sent ? ">" : "*";
  fmt::print(stderr, "{} {}\n", mark, line);
}

}  // namespace

std::shared_ptr<ProbeArgs> add_probe(CLI::App& app) {
  auto args = std::make_shared<ProbeArgs>();
  auto* cmd = app.add_subcommand("probe", "Connect to peers, negotiate the best security policy allows, report it");
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("targets", args->targets, "PROTO://host[:port] or PROTO://[host][:port]")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add_probe_flags(*cmd, args->flags);
  cmd->add_flag("--json", args->json, "One JSON object per target (JSON Lines)");
  cmd->add_flag("-v,--verbose", args->verbose, "Show the dialogue on stderr (< received, > sent)");
  return args;
}

int run_probe(const ProbeArgs& args) {
  const ProbeFlags& flags = args.flags;
  ProbeSetup setup;
  if (auto c = configure(flags, setup); !c) return usage(c.error().detail);
  probe::Options& opts = setup.options;
  tls::ClientContextCache contexts;  // several targets: one SSL_CTX per policy
  opts.contexts = &contexts;
  if (args.verbose) opts.transcript = print_transcript;

  std::vector<probe::Target> targets;
  for (const auto& text : args.targets) {
    auto t = make_target(flags, text);
    if (!t) return usage(t.error().detail);
    targets.push_back(std::move(*t));
  }
  if (setup.map) {
    for (const auto& t : targets) {
      if (auto c = check_map_level(flags, *setup.map, t); !c) return usage(c.error().detail);
    }
  }

  bool any_fail = false, any_defer = false;
  asio::io_context io;
  // Every host name goes through the validating resolver (DNSSEC state for DANE, R9).
  std::unique_ptr<dns::Resolver> resolver;
  const bool needs_dns = !flags.dns_config.empty() ||
                         std::any_of(targets.begin(), targets.end(), [](const auto& t) { return !t.is_ip_literal; });
  if (needs_dns) {
    auto r = dns::Resolver::create(io.get_executor(), {.config_file = flags.dns_config});
    if (!r) return usage(r.error().detail);
    resolver = std::move(*r);
    opts.resolver = resolver.get();
  }
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (const auto& t : targets) {
          const Outcome o = co_await probe::run(t, opts);
          any_fail |= o.verdict == Verdict::Fail;
          any_defer |= o.verdict == Verdict::Defer;
          if (args.json) {
            fmt::print("{}\n", report::to_json(o).dump());
          } else {
            fmt::print("{}\n{}", report::log_line(o), report::reason_block(o));
          }
          std::fflush(stdout);
        }
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  return any_fail ? exit_fail : any_defer ? exit_defer : exit_ok;
}

}  // namespace ostls::cli
