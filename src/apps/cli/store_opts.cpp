#include "apps/cli/store_opts.hpp"

namespace ostls::cli {

void add_store_options(CLI::App& app, StoreOptions& options) {
  auto* store = app.add_option("--store", options.spec,
                               "memory: a SQLite file, or postgresql://… for a store shared by several hosts "
                               "(default $XDG_STATE_HOME/ostls/ostls.db)");
  app.add_flag("--no-store", options.none, "remember nothing: no pins, no capability memory")->excludes(store);
}

Result<std::optional<store::Store>> open_store(const StoreOptions& options) {
  if (options.none) return std::optional<store::Store>{};
  auto s = store::Store::open_or_default(options.spec);
  if (!s) return unexpected<Error>(s.error());
  return std::optional<store::Store>{std::move(*s)};
}

}  // namespace ostls::cli
