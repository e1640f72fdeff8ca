#include "scan/progress.hpp"

#include <cstdio>

#include <fmt/format.h>

namespace ostls::scan {

std::string progress_line(const Counters& c, std::chrono::duration<double> elapsed) {
  const std::uint64_t processed = c.done + c.skipped + c.bad;
  std::string out;
  if (c.total && *c.total > 0) {
    out = fmt::format("{}/{} {:.1f}%", processed, *c.total,
                      100.0 * static_cast<double>(processed) / static_cast<double>(*c.total));
  } else {
    out = fmt::format("{} done", processed);
  }
  const double seconds = elapsed.count();
  const double rate = seconds > 0 ? static_cast<double>(c.done) / seconds : 0;
  out += fmt::format(" · {:.1f}/s", rate);
  if (c.total && rate > 0 && *c.total >= processed) {
    const auto left = static_cast<std::uint64_t>(static_cast<double>(*c.total - processed) / rate);
    out += left >= 3600 ? fmt::format(" · ETA {}:{:02}:{:02}", left / 3600, left / 60 % 60, left % 60)
                        : fmt::format(" · ETA {}:{:02}", left / 60, left % 60);
  }
  out += fmt::format(" · cleartext {} · encrypted {} · authenticated {} · ok {} fail {} defer {} · in flight {}",
                     c.cleartext, c.encrypted, c.authenticated, c.ok, c.fail, c.defer, c.in_flight);
  if (c.skipped > 0) out += fmt::format(" · resumed {}", c.skipped);
  if (c.bad > 0) out += fmt::format(" · bad lines {}", c.bad);
  return out;
}

void Progress::show(const Counters& c, std::chrono::duration<double> elapsed) {
  if (quiet_) return;
  const auto line = progress_line(c, elapsed);
  if (terminal_) {
    fmt::print(stderr, "\r{}\x1b[K", line);
    drawn_ = true;
  } else {
    fmt::print(stderr, "ostls scan: {}\n", line);
  }
  std::fflush(stderr);
}

void Progress::message(std::string_view text) {
  if (drawn_) fmt::print(stderr, "\r\x1b[K");
  drawn_ = false;  // redrawn at the next tick
  fmt::print(stderr, "ostls scan: {}\n", text);
  std::fflush(stderr);
}

void Progress::end() {
  if (drawn_) fmt::print(stderr, "\n");
  drawn_ = false;
  std::fflush(stderr);
}

}  // namespace ostls::scan
