#include "core/level.hpp"

#include <array>

#include "core/names.hpp"

namespace ostls {
namespace {

// clang-format off
constexpr std::array<LevelInfo, 10> level_table{{
  //  level                 name             tls    auth   pkix   opport impl
  {Level::None,          "none",          false, false, false, false, true},
  {Level::May,           "may",           false, false, false, true,  true},
  {Level::Encrypt,       "encrypt",       true,  false, false, false, true},
  {Level::Fingerprint,   "fingerprint",   true,  true,  false, false, true},
  {Level::Tofu,          "tofu",          true,  true,  false, false, true},
  {Level::Dane,          "dane",          false, false, false, true,  true},
  {Level::DaneOnly,      "dane-only",     true,  true,  false, false, true},
  {Level::Verify,        "verify",        true,  true,  true,  false, true},
  {Level::Secure,        "secure",        true,  true,  true,  false, true},
  {Level::Opportunistic, "opportunistic", false, false, false, true,  true},
}};
// clang-format on
static_assert(covers(level_table, 10));

}  // namespace

std::optional<Level> parse_level(std::string_view n) { return parse_in(level_table, n); }
std::string_view name(Level level) { return name_in(level_table, level); }
const LevelInfo& info(Level level) { return level_table[static_cast<std::size_t>(level)]; }

}  // namespace ostls
