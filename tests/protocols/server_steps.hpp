// Test helpers for server-role machines: compact checks of one proto::Action.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>

#include "protocols/server.hpp"

namespace ostls::test {

// The action writes exactly these bytes and continues with `next`.
inline void expect_action(const proto::Action& a, proto::Next next, const std::string& to_client,
                          const std::string& to_backend = {}) {
  EXPECT_EQ(a.next, next);
  EXPECT_EQ(a.to_client, to_client);
  EXPECT_EQ(a.to_backend, to_backend);
  if (next == proto::Next::Fail) {
    EXPECT_TRUE(a.error.has_value());
  }
}

// Feeds `first`, then `line` again and again from the backend while the machine keeps asking
// for more (at most `cap` lines): how many lines it took, and the action that ended it.
template <class Machine>
std::pair<int, proto::Action> flood_backend(Machine& m, std::string_view first, std::string_view line,
                                            int cap = 100000) {
  proto::Action a = m.on_backend_line(first);
  int n = 1;
  while (a.next == proto::Next::ReadBackend && n < cap) {
    a = m.on_backend_line(line);
    ++n;
  }
  return {n, std::move(a)};
}

// The driver's side of the contract for binary machines: the client's bytes sit in a buffer, the
// machine is handed at most `read_bytes` of them per call (and at most `chunk`, to split reads
// further); what is left when the machine stops reading is the driver's leftover.
struct ClientBytes {
  std::string pending;
  std::size_t chunk = 65536;

  template <class Machine>
  proto::Action run(Machine& s, proto::Action a) {
    while (a.next == proto::Next::ReadClient && !pending.empty()) {
      EXPECT_GT(a.read_bytes, 0u) << "a binary machine must ask for bytes";
      if (a.read_bytes == 0) break;
      const auto n = std::min({a.read_bytes, chunk, pending.size()});
      auto next = s.on_client_bytes(pending.substr(0, n));
      pending.erase(0, n);
      if (!next.to_client.empty() || !next.to_backend.empty() || next.next != proto::Next::ReadClient) return next;
      a = std::move(next);
    }
    return a;
  }
};

}  // namespace ostls::test
