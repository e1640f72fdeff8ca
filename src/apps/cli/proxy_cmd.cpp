// `ostls proxy --config FILE [--check] [-v]`: the daemon of proxy/proxy.hpp. --check validates
// the file and loads what it names (certificates, policy maps, the resolver configuration),
// then exits: 0 when all is well, 2 with "FILE:LINE: …" otherwise.
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "apps/cli/commands.hpp"
#include "proxy/config.hpp"
#include "proxy/proxy.hpp"

namespace ostls::cli {

struct ProxyArgs {
  std::string config;
  bool check = false, verbose = false;
};

std::shared_ptr<ProxyArgs> add_proxy(CLI::App& app) {
  auto args = std::make_shared<ProxyArgs>();
  auto* cmd = app.add_subcommand("proxy", "Opportunistic security in front of software that cannot do it (client and server mode)");
  cmd->add_option("--config", args->config, "TOML configuration (README \"ostls proxy\")")->required();
  cmd->add_flag("--check", args->check, "Validate the configuration and what it names, then exit");
  cmd->add_flag("-v,--verbose", args->verbose, "Every session's dialogue on stderr");
  return args;
}

int run_proxy(const ProxyArgs& args) {
  auto config = proxy::load(args.config);
  if (!config) {
    fmt::print(stderr, "ostls proxy: {}\n", config.error().detail);
    return exit_usage;
  }
  if (args.check) {
    if (auto c = proxy::check(*config); !c) {
      fmt::print(stderr, "ostls proxy: {}\n", c.error().detail);
      return exit_usage;
    }
    fmt::print("{}: ok ({} listener{})\n", args.config, config->listeners.size(), config->listeners.size() == 1 ? "" : "s");
    return exit_ok;
  }
  if (auto r = proxy::run(*config, {.verbose = args.verbose}); !r) {
    fmt::print(stderr, "ostls proxy: {}\n", r.error().detail);
    return exit_usage;
  }
  return exit_ok;
}

}  // namespace ostls::cli
