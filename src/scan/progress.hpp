// What `ostls scan` shows while it runs, on stderr: on a terminal one line redrawn in place
// (done/total when the total is known, rate, ETA, counts by protection and verdict); otherwise a
// plain line every few seconds, for logs. Messages (bad input lines, stopping) are printed
// above the bar. The line itself is a pure function of the counters (progress_line()).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ostls::scan {

struct Counters {
  std::optional<std::uint64_t> total;  // targets this run will consider, when known in advance
  std::uint64_t done = 0;              // probed in this run (a line written)
  std::uint64_t skipped = 0;           // --resume: already in the output
  std::uint64_t bad = 0;               // input lines that are not targets
  std::uint64_t in_flight = 0;
  std::uint64_t cleartext = 0, encrypted = 0, authenticated = 0;
  std::uint64_t ok = 0, fail = 0, defer = 0;
};

// "1234/5000 24.7% · 180.2/s · ETA 0:21 · cleartext 10 · encrypted 800 · authenticated 400 ·
// ok 1200 fail 30 defer 4 · in flight 500"; rate and ETA from `done` over `elapsed`.
[[nodiscard]] std::string progress_line(const Counters& c, std::chrono::duration<double> elapsed);

class Progress {
public:
  // `terminal`: redraw one line in place; `quiet`: show nothing but messages.
  Progress(bool terminal, bool quiet) : terminal_(terminal), quiet_(quiet) {}
  [[nodiscard]] std::chrono::milliseconds interval() const {
    return terminal_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(5000);
  }
  void show(const Counters& c, std::chrono::duration<double> elapsed);
  void message(std::string_view text);  // one line, above the bar
  void end();                           // leaves the last bar standing, before the summary

private:
  bool terminal_, quiet_;
  bool drawn_ = false;
};

}  // namespace ostls::scan
