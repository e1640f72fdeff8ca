// Test helpers for server-role machines: compact checks of one proto::Action.
#pragma once

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

}  // namespace ostls::test
