// ostls: opportunistic security (RFC 7435) for STARTTLS protocols. See README.md.
#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "apps/cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"ostls — opportunistic security for every STARTTLS protocol (RFC 7435)", "ostls"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ostls 0.1.0");
  auto probe = ostls::cli::add_probe(app);
  auto scan = ostls::cli::add_scan(app);
  auto tofu = ostls::cli::add_tofu(app);
  auto report = ostls::cli::add_report(app);
  auto proxy = ostls::cli::add_proxy(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return ostls::cli::exit_usage;
  }
  try {
    if (app.got_subcommand("probe")) return ostls::cli::run_probe(*probe);
    if (app.got_subcommand("scan")) return ostls::cli::run_scan(*scan);
    if (app.got_subcommand("tofu")) return ostls::cli::run_tofu(*tofu);
    if (app.got_subcommand("report")) return ostls::cli::run_report(*report);
    if (app.got_subcommand("proxy")) return ostls::cli::run_proxy(*proxy);
  } catch (const std::exception& e) {
    // Configuration and start-up failures only: the data plane reports through Outcomes.
    fmt::print(stderr, "ostls: {}\n", e.what());
    return ostls::cli::exit_usage;
  }
  return ostls::cli::exit_usage;
}
