// --store / --no-store, shared by every subcommand that remembers (probe, tofu; scan and proxy
// later): the SQLite file or PostgreSQL URI, the default $XDG_STATE_HOME/ostls/ostls.db, or none.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/error.hpp"
#include "store/store.hpp"

namespace ostls::cli {

struct StoreOptions {
  std::string spec;       // empty: the default path
  bool none = false;      // --no-store: remember nothing beyond this run
};

void add_store_options(CLI::App& app, StoreOptions& options);

// nullopt for --no-store.
[[nodiscard]] Result<std::optional<store::Store>> open_store(const StoreOptions& options);

}  // namespace ostls::cli
