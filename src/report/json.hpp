// The JSON rendering of an Outcome: the schema of `ostls probe --json` (one object per target,
// JSON Lines for several), documented in README "JSON schema". Keys are stable; absent facts are
// null, never omitted.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "core/outcome.hpp"

namespace ostls::report {

[[nodiscard]] nlohmann::json to_json(const Outcome& o);

}  // namespace ostls::report
