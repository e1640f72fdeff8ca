// Google Benchmark: SMTP reply parsing (smtp::ReplyReader, RFC 5321 §4.2) on a typical 10-line
// Postfix EHLO reply, fed line by line as net::Channel does. Reports lines/s and bytes/s.
#include <array>
#include <cstdint>
#include <string_view>

#include <benchmark/benchmark.h>

#include "protocols/reply.hpp"

namespace {

constexpr std::array<std::string_view, 10> ehlo_reply{
    "250-mx.example.org",  "250-PIPELINING",          "250-SIZE 10240000", "250-VRFY",
    "250-ETRN",            "250-STARTTLS",            "250-ENHANCEDSTATUSCODES",
    "250-8BITMIME",        "250-DSN",                 "250 SMTPUTF8",
};

void bm_ehlo_reply(benchmark::State& state) {
  ostls::smtp::ReplyReader reader(ostls::Limits{});
  std::int64_t bytes = 0;
  for (const auto line : ehlo_reply) bytes += static_cast<std::int64_t>(line.size() + 2);
  for (auto _ : state) {
    for (const auto line : ehlo_reply) {
      auto r = reader.feed(line);
      benchmark::DoNotOptimize(r);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(ehlo_reply.size()));
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(bm_ehlo_reply);

}  // namespace

BENCHMARK_MAIN();
