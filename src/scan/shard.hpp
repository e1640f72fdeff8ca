// `ostls scan --shard I/N`: which targets one of N cooperating scans takes. The split is a pure
// function of the target's normalized text (scheme, host in lower case, bracket, port), so every
// shard of a run agrees without talking to the others, spellings of one target land in one shard,
// and the split does not depend on input order, platform or build (FNV-1a, not std::hash).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "probe/target.hpp"

namespace ostls::scan {

struct Shard {
  std::uint32_t index = 1;  // 1-based: 1/N … N/N
  std::uint32_t count = 1;
};

// "I/N" with 1 <= I <= N.
[[nodiscard]] Result<Shard> parse_shard(std::string_view text);

// "scheme://host:port" or "scheme://[host]:port": the canonical scheme (after --implicit and
// --starttls-only), the host in lower case without a trailing dot, the effective port.
[[nodiscard]] std::string normalized(const probe::Target& t);

[[nodiscard]] std::uint64_t fnv1a(std::string_view text);

[[nodiscard]] bool in_shard(const probe::Target& t, const Shard& shard);

}  // namespace ostls::scan
