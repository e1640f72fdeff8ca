// Fuzzes the MTA-STS policy body from the network (RFC 8461 §3.2): mtasts::parse_policy() on the
// whole input, and mtasts::mx_matches() with the input's first line as a pattern and the rest as
// a host name.
// Properties checked beyond "no crash": errors are Peer faults; a parsed policy is within the
// RFC's bounds (mode named, max_age <= 31557600, mx present unless mode none); every parsed mx
// pattern matches a host it describes, in any case and with a trailing dot, and a wildcard never
// matches its own suffix or two labels; matching ignores case and one trailing dot.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mtasts/policy.hpp"

namespace {

void require(bool property) {
  if (!property) __builtin_trap();
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

void check_pattern(const ostls::mtasts::Policy& policy, const std::string& pattern) {
  using ostls::mtasts::mx_matches;
  if (pattern.starts_with("*.")) {
    const auto suffix = pattern.substr(2);
    require(mx_matches(pattern, "mx." + suffix));
    require(mx_matches(pattern, upper("mx." + suffix) + "."));
    require(!mx_matches(pattern, suffix));
    require(!mx_matches(pattern, "a.b." + suffix));
  } else {
    require(mx_matches(pattern, pattern));
    require(mx_matches(pattern, upper(pattern) + "."));
    require(!mx_matches(pattern, "a." + pattern));
  }
  require(ostls::mtasts::permits(policy, pattern.starts_with("*.") ? "x" + pattern.substr(1) : pattern));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto policy = ostls::mtasts::parse_policy(text);
  if (!policy) {
    require(policy.error().fault == ostls::Fault::Peer);
    require(!policy.error().detail.empty());
  } else {
    require(ostls::mtasts::parse_mode(ostls::mtasts::name(policy->mode)) == policy->mode);
    require(policy->max_age <= ostls::mtasts::limits::max_age);
    require(!policy->mx.empty() || policy->mode == ostls::mtasts::Mode::None);
    for (const auto& p : policy->mx) check_pattern(*policy, p);
    (void)policy->to_string();
  }

  const auto nl = std::min(text.find('\n'), text.size());
  const auto pattern = text.substr(0, nl);
  const auto host = text.substr(std::min(nl + 1, text.size()));
  const bool m = ostls::mtasts::mx_matches(pattern, host);
  require(m == ostls::mtasts::mx_matches(upper(pattern), upper(host)));
  if (!host.ends_with('.')) require(m == ostls::mtasts::mx_matches(pattern, std::string(host) + "."));
  return 0;
}
