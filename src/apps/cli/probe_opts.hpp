// The options `ostls probe` and `ostls scan` share (policy, trust anchors, DNS, ports, limits,
// the store), registered once on a CLI11 subcommand and turned into probe::Options and Targets
// in one place. Moved out of probe_cmd.cpp unchanged when scan arrived.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "apps/cli/store_opts.hpp"
#include "core/limits.hpp"
#include "policy/policy_map.hpp"
#include "probe/probe.hpp"

namespace ostls::cli {

struct ProbeFlags {
  std::string level = "opportunistic";
  std::string policy_map;
  std::vector<std::string> match;
  std::string cafile, capath, servername, helo, dns_config, xmpp_domain, protocol;
  bool implicit = false, starttls_only = false;
  std::uint16_t port = 0, mta_sts_port = 443;
  double timeout = 30;
  bool try_starttls = false, srv = false, sticky = false;
  Limits limits;
  StoreOptions store;
};

void add_probe_flags(CLI::App& cmd, ProbeFlags& flags);

// What the flags configure; probe::Options points into `map` and `store`, so a ProbeSetup stays
// where configure() filled it.
struct ProbeSetup {
  probe::Options options;
  std::optional<policy::PolicyMap> map;
  std::optional<store::Store> store;
  ProbeSetup() = default;
  ProbeSetup(const ProbeSetup&) = delete;
  ProbeSetup& operator=(const ProbeSetup&) = delete;
};

// Errors are usage errors (unknown level, unreadable policy map, store that cannot be opened).
// options.resolver is left null: the caller creates the resolver when it knows it needs one.
[[nodiscard]] Result<void> configure(const ProbeFlags& flags, ProbeSetup& setup);

// One target as written, with --protocol, --implicit/--starttls-only, --port and --srv applied
// and checked.
[[nodiscard]] Result<probe::Target> make_target(const ProbeFlags& flags, std::string_view text);

// A policy-map entry for the target with a level this build does not implement (usage error).
[[nodiscard]] Result<void> check_map_level(const ProbeFlags& flags, const policy::PolicyMap& map,
                                           const probe::Target& t);

}  // namespace ostls::cli
