#include "proxy/metrics.hpp"

#include <fmt/format.h>

namespace ostls::proxy {
namespace {

// Label values: backslash, double quote and line feed escaped (exposition format 0.0.4).
std::string label(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

bool is_downgrade_indicator(EventType t) {
  switch (t) {
    case EventType::ResponseInjection:
    case EventType::CommandInjection:
    case EventType::StarttlsMasked:
    case EventType::StarttlsRefused:
    case EventType::StarttlsAfterTls:
    case EventType::ResetAfterStarttls:
    case EventType::DowngradeSuspected:
    case EventType::PreauthSkipsStarttls:
    case EventType::StarttlsStripped:
    case EventType::TofuKeyChanged:
      return true;
    case EventType::FallbackToCleartext:  // counted apart
    case EventType::StarttlsAcceptedUnadvertised:
    case EventType::AuthSoftFail:
    case EventType::HeloFallback:
    case EventType::MtaStsTestingFailure:
      return false;
  }
  return false;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

void Metrics::opened(const std::string& listener, std::string_view mode) {
  const std::lock_guard lock(mutex_);
  ++sessions_[{listener, std::string(mode)}];
  ++open_[listener];
}

void Metrics::closed(const std::string& listener) {
  const std::lock_guard lock(mutex_);
  --open_[listener];
}

void Metrics::refused(const std::string& listener, std::string_view reason) {
  const std::lock_guard lock(mutex_);
  ++refused_[{listener, std::string(reason)}];
}

void Metrics::outcome(const std::string& listener, Verdict verdict, Protection protection, AuthMethod method,
                      const std::vector<Event>& events) {
  const std::lock_guard lock(mutex_);
  ++outcomes_[{listener, std::string(name(verdict)), std::string(name(protection)), std::string(name(method))}];
  for (const auto& e : events) {
    if (e.type == EventType::FallbackToCleartext) ++fallbacks_[listener];
    if (is_downgrade_indicator(e.type)) ++downgrades_[{listener, std::string(name(e.type))}];
  }
}

void Metrics::handshake(const std::string& listener, double seconds) {
  const std::lock_guard lock(mutex_);
  auto& h = handshakes_[listener];
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (seconds <= buckets[i]) ++h.counts[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::resumed(const std::string& listener) {
  const std::lock_guard lock(mutex_);
  ++resumed_[listener];
}

std::string Metrics::render() const {
  const std::lock_guard lock(mutex_);
  std::string out;
  header(out, "ostls_proxy_sessions_total", "counter", "Sessions accepted.");
  for (const auto& [k, v] : sessions_) {
    out += fmt::format("ostls_proxy_sessions_total{{listener=\"{}\",mode=\"{}\"}} {}\n", label(std::get<0>(k)),
                       label(std::get<1>(k)), v);
  }
  header(out, "ostls_proxy_outcomes_total", "counter", "Finished sessions by verdict, protection and auth method.");
  for (const auto& [k, v] : outcomes_) {
    out += fmt::format("ostls_proxy_outcomes_total{{listener=\"{}\",verdict=\"{}\",protection=\"{}\",auth_method=\"{}\"}} {}\n",
                       label(std::get<0>(k)), std::get<1>(k), std::get<2>(k), std::get<3>(k), v);
  }
  header(out, "ostls_proxy_fallbacks_total", "counter", "R2 fallbacks to cleartext after a failed handshake.");
  for (const auto& [k, v] : fallbacks_) out += fmt::format("ostls_proxy_fallbacks_total{{listener=\"{}\"}} {}\n", label(k), v);
  header(out, "ostls_proxy_downgrade_events_total", "counter", "Downgrade indicators seen, by event type.");
  for (const auto& [k, v] : downgrades_) {
    out += fmt::format("ostls_proxy_downgrade_events_total{{listener=\"{}\",type=\"{}\"}} {}\n", label(std::get<0>(k)),
                       std::get<1>(k), v);
  }
  header(out, "ostls_proxy_refused_total", "counter", "Connections refused before a session started.");
  for (const auto& [k, v] : refused_) {
    out += fmt::format("ostls_proxy_refused_total{{listener=\"{}\",reason=\"{}\"}} {}\n", label(std::get<0>(k)),
                       label(std::get<1>(k)), v);
  }
  header(out, "ostls_proxy_handshake_seconds", "histogram", "TLS handshake latency.");
  for (const auto& [k, h] : handshakes_) {
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      out += fmt::format("ostls_proxy_handshake_seconds_bucket{{listener=\"{}\",le=\"{}\"}} {}\n", label(k), buckets[i],
                         h.counts[i]);
    }
    out += fmt::format("ostls_proxy_handshake_seconds_bucket{{listener=\"{}\",le=\"+Inf\"}} {}\n", label(k), h.count);
    out += fmt::format("ostls_proxy_handshake_seconds_sum{{listener=\"{}\"}} {}\n", label(k), h.sum);
    out += fmt::format("ostls_proxy_handshake_seconds_count{{listener=\"{}\"}} {}\n", label(k), h.count);
  }
  header(out, "ostls_proxy_resumed_total", "counter", "Upstream TLS sessions resumed (client mode).");
  for (const auto& [k, v] : resumed_) out += fmt::format("ostls_proxy_resumed_total{{listener=\"{}\"}} {}\n", label(k), v);
  header(out, "ostls_proxy_open_connections", "gauge", "Sessions open now.");
  for (const auto& [k, v] : open_) out += fmt::format("ostls_proxy_open_connections{{listener=\"{}\"}} {}\n", label(k), v);
  return out;
}

}  // namespace ostls::proxy
