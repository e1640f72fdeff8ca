// `ostls proxy` metrics in the Prometheus text exposition format (version 0.0.4), served at
// GET /metrics on the `metrics` address of the configuration. Sessions of every worker loop
// update it, so each call takes one mutex (a handful of map updates per session). Names:
//   ostls_proxy_sessions_total{listener,mode}                       accepted sessions
//   ostls_proxy_outcomes_total{listener,verdict,protection,auth_method}
//   ostls_proxy_fallbacks_total{listener}                           R2 cleartext fallbacks
//   ostls_proxy_downgrade_events_total{listener,type}               downgrade indicators
//   ostls_proxy_refused_total{listener,reason}                      over max_connections, …
//   ostls_proxy_handshake_seconds{listener} (histogram)             TLS handshake latency
//   ostls_proxy_resumed_total{listener}                             client mode: TLS sessions resumed
//   ostls_proxy_open_connections{listener} (gauge)
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "core/outcome.hpp"

namespace ostls::proxy {

class Metrics {
public:
  void opened(const std::string& listener, std::string_view mode);
  void closed(const std::string& listener);
  void refused(const std::string& listener, std::string_view reason);
  // What one finished session achieved (client mode: the upstream outcome; server mode: the
  // client's side, verdict `ok` unless the session failed before relaying).
  void outcome(const std::string& listener, Verdict verdict, Protection protection, AuthMethod method,
               const std::vector<Event>& events);
  void handshake(const std::string& listener, double seconds);
  void resumed(const std::string& listener);

  [[nodiscard]] std::string render() const;

private:
  static constexpr std::array<double, 12> buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  mutable std::mutex mutex_;
  struct Histogram {
    std::array<std::uint64_t, buckets.size()> counts{};  // cumulative per bucket
    std::uint64_t count = 0;
    double sum = 0;
  };
  std::map<std::tuple<std::string, std::string>, std::uint64_t> sessions_;
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::uint64_t> outcomes_;
  std::map<std::string, std::uint64_t> fallbacks_, resumed_;
  std::map<std::tuple<std::string, std::string>, std::uint64_t> downgrades_, refused_;
  std::map<std::string, Histogram> handshakes_;
  std::map<std::string, std::int64_t> open_;
};

}  // namespace ostls::proxy
