// One function pair per subcommand: add_X registers its options on the CLI11 app and returns
// the state that run_X executes after parsing. main.cpp only wires them together.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

namespace ostls::cli {

// Exit statuses of every subcommand (README "Exit status").
inline constexpr int exit_ok = 0;
inline constexpr int exit_fail = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_defer = 75;  // EX_TEMPFAIL

// This host's name for EHLO/LHLO ("localhost" when it has none).
std::string default_helo();

struct ProbeArgs;
std::shared_ptr<ProbeArgs> add_probe(CLI::App& app);
int run_probe(const ProbeArgs& args);

struct ScanArgs;
std::shared_ptr<ScanArgs> add_scan(CLI::App& app);
int run_scan(const ScanArgs& args);

struct TofuArgs;
std::shared_ptr<TofuArgs> add_tofu(CLI::App& app);
int run_tofu(const TofuArgs& args);

struct ProxyArgs;
std::shared_ptr<ProxyArgs> add_proxy(CLI::App& app);
int run_proxy(const ProxyArgs& args);

struct ReportArgs;
std::shared_ptr<ReportArgs> add_report(CLI::App& app);
int run_report(const ReportArgs& args);

}  // namespace ostls::cli
