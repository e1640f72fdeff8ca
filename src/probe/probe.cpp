#include "probe/probe.hpp"

#include <algorithm>
#include <cctype>

#include <asio/this_coro.hpp>
#include <fmt/format.h>

#include "net/connect.hpp"
#include "net/drive.hpp"
#include "net/watchdog.hpp"
#include "policy/decide.hpp"
#include "protocols/smtp.hpp"
#include "tls/context.hpp"
#include "tls/handshake.hpp"

namespace ostls::probe {
namespace {

using net::Clock;

double ms(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// The policy applied to this peer: an explicit policy-map entry preempts the default (R1).
struct Plan {
  PolicyApplied policy;
  std::vector<std::string> match;
  std::string servername;
  std::optional<std::string> protocols, ciphers;
};

Plan plan_for(const Target& t, const Options& o) {
  Plan p;
  p.policy.level = o.level;
  p.policy.source = o.level_source;
  p.match = o.match;
  p.servername = o.servername.value_or(t.host);
  if (const auto* e = o.policy_map ? o.policy_map->lookup(t.host, t.port) : nullptr) {
    p.policy.level = e->level;
    p.policy.source = PolicySource::PolicyMap;
    if (!e->match.empty()) p.match = e->match;
    if (e->servername) p.servername = *e->servername;
    p.protocols = e->protocols;
    p.ciphers = e->ciphers;
  }
  // Until DANE, MTA-STS and TOFU arrive, no downgrade-resistant signal exists, so the
  // opportunistic default is unauthenticated opportunistic TLS (SPEC §1, last row).
  p.policy.effective = p.policy.level == Level::Opportunistic ? Level::May : p.policy.level;
  return p;
}

// Reference identifiers for the name check (recorded at every level, enforced at verify/secure).
std::vector<std::string> reference_ids(const Plan& p, const Target& t) {
  const auto level = p.policy.effective;
  if ((level == Level::Verify || level == Level::Secure) && !p.match.empty()) return p.match;
  std::vector<std::string> ids{p.servername};
  // Postfix `secure` default: nexthop and dot-nexthop; for [host] targets the nexthop is the host.
  if (level == Level::Secure && !t.is_ip_literal) ids.push_back("." + p.servername);
  return ids;
}

std::string excerpt(std::string_view bytes) {
  std::string out;
  for (char c : bytes.substr(0, 120)) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return bytes.size() > 120 ? out + "…" : out;
}

bool lists(const std::vector<std::string>& caps, std::string_view keyword) {
  return std::any_of(caps.begin(), caps.end(), [&](const std::string& c) {
    std::string kw;
    for (char ch : c) {
      if (ch == ' ' || ch == '=') break;
      kw += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    return kw == keyword;
  });
}

struct Attempt {
  smtp::Facts facts;
  std::optional<Error> error;            // dialogue ended early
  std::optional<Error> handshake_error;  // TLS handshake failed
  std::optional<TlsFacts> tls;
  std::string address;
  std::vector<Event> events;
  Timing timing;
};

struct AttemptParams {
  const Target& target;
  const Options& options;
  const Plan& plan;
  SSL_CTX* ctx;  // null when the level never does TLS
  proto::Upgrade upgrade;
  net::Watchdog& watchdog;
};

// Runs the TLS handshake on the channel; the facts are read at once (R3: always recorded).
net::awaitable<void> upgrade(net::Channel& ch, const AttemptParams& p, Attempt& a) {
  auto ssl = tls::client_session(p.ctx, {.sni = p.plan.servername});
  if (!ssl) {
    a.error = ssl.error();
    co_return;
  }
  const auto start = Clock::now();
  auto hs = co_await ch.handshake(std::move(*ssl));
  a.timing.handshake = ms(start, Clock::now());
  if (!hs) {
    if (hs.error().code == Errc::Timeout) {
      a.error = hs.error();
    } else {
      a.handshake_error = hs.error();
    }
    co_return;
  }
  const auto ids = reference_ids(p.plan, p.target);
  a.tls = tls::handshake_facts(ch.ssl(), ids);
}

net::awaitable<Attempt> attempt(const AttemptParams& p) {
  Attempt a;
  const auto& t = p.target;
  const auto start = Clock::now();
  auto conn = co_await net::connect(t.host, t.port, p.watchdog);
  a.timing.connect = ms(start, Clock::now());
  if (!conn) {
    a.error = conn.error();
    co_return a;
  }
  a.address = conn->address;
  net::Channel ch(std::move(conn->socket), p.options.limits, p.options.transcript);
  p.watchdog.on_expiry([&ch] { ch.abort(); });
  const auto connected = Clock::now();

  smtp::Client machine({.helo = p.options.helo,
                        .lmtp = t.protocol.family == proto::Family::Lmtp,
                        .implicit_tls = t.protocol.implicit_tls,
                        .upgrade = p.upgrade,
                        .helo_fallback = !requires_tls(p.plan.policy.effective),
                        .limits = p.options.limits});
  proto::Step step = machine.start();
  if (t.protocol.implicit_tls) {
    co_await upgrade(ch, p, a);
    if (!a.tls) {
      p.watchdog.clear();
      co_return a;
    }
    step = machine.on_tls_established();
  }
  for (;;) {
    auto r = co_await net::drive(machine, ch, std::move(step));
    if (!a.timing.greeting && ch.first_read()) a.timing.greeting = ms(connected, *ch.first_read());
    if (!r) {
      a.error = r.error();
      break;
    }
    if (auto* f = std::get_if<proto::Fail>(&*r)) {
      a.error = f->error;
      break;
    }
    if (!std::holds_alternative<proto::StartTls>(*r)) break;  // Close: the dialogue is over
    a.timing.starttls = ms(ch.last_write(), Clock::now());
    // R10: nothing received before the handshake may be read as TLS-protected data.
    if (const auto leftover = ch.take_leftover(); !leftover.empty()) {
      a.events.push_back({EventType::ResponseInjection,
                          fmt::format("discarded {} plaintext bytes pipelined behind the STARTTLS reply: \"{}\"",
                                      leftover.size(), excerpt(leftover))});
    }
    co_await upgrade(ch, p, a);
    if (a.handshake_error && a.handshake_error->code == Errc::Closed) {
      a.events.push_back({EventType::ResetAfterStarttls,
                          fmt::format("connection closed after the STARTTLS reply: {}", a.handshake_error->detail)});
    }
    if (!a.tls) break;
    step = machine.on_tls_established();
  }
  p.watchdog.clear();
  a.facts = machine.facts();
  co_return a;
}

// Downgrade indicators visible in one dialogue (issue 2 item 6, SPEC R11).
void dialogue_events(const smtp::Facts& f, bool tls, Outcome& o) {
  if (f.masked_keyword) {
    o.add(EventType::StarttlsMasked,
          fmt::format("EHLO lists \"{}\" where STARTTLS is expected: a middlebox may be hiding it", *f.masked_keyword));
  }
  if (f.starttls_reply && f.starttls_reply->code != 220 && f.starttls_offered) {
    o.add(EventType::StarttlsRefused,
          fmt::format("STARTTLS advertised, then refused: {} {}", f.starttls_reply->code, f.starttls_reply->text()));
  }
  if (f.starttls_reply && f.starttls_reply->code == 220 && !f.starttls_offered) {
    o.add(EventType::StarttlsAcceptedUnadvertised, "STARTTLS was not advertised but the peer accepted it");
  }
  if (f.helo_fallback) o.add(EventType::HeloFallback, "EHLO rejected; HELO used, so no extensions were seen");
  if (tls && lists(f.caps_tls, "STARTTLS")) {
    o.add(EventType::StarttlsAfterTls, "STARTTLS still advertised after TLS was established");
  }
}

policy::AttemptSummary summarize(const Attempt& a, bool implicit_tls) {
  policy::AttemptSummary s;
  s.error = a.error;
  s.handshake_error = a.handshake_error;
  s.tls = a.tls.has_value();
  s.implicit_tls = implicit_tls;
  s.starttls_offered = a.facts.starttls_offered;
  if (a.facts.starttls_reply && a.facts.starttls_reply->code != 220) {
    s.refusal = fmt::format("{} {}", a.facts.starttls_reply->code, a.facts.starttls_reply->text());
  }
  return s;
}

}  // namespace

net::awaitable<Outcome> run(const Target& target, const Options& options) {
  const auto start = Clock::now();
  const Plan plan = plan_for(target, options);
  Outcome o;
  o.target = target.text;
  o.protocol = std::string(target.protocol.canonical);
  o.host = target.host;
  o.port = target.port;
  o.servername = plan.servername;
  o.policy = plan.policy;
  const Level level = plan.policy.effective;

  auto finish = [&](policy::Decision d) {
    o.verdict = d.verdict;
    o.protection = d.protection;
    o.auth_method = d.auth_method;
    o.failure = d.failure;
    o.timing.total = ms(start, Clock::now());
    return o;
  };
  auto refuse = [&](const Error& e) {
    return finish({.verdict = policy::verdict_for(e),
                   .failure = Failure{.result_type = std::nullopt, .fault = e.fault, .detail = e.detail}});
  };

  if (!is_implemented(level)) {
    co_return refuse({Errc::Usage, Fault::Config, fmt::format("level {} is not available yet", name(level))});
  }
  if (level == Level::None && target.protocol.implicit_tls) {
    co_return finish(policy::decide(level, {.implicit_tls = true}, std::nullopt));
  }
  tls::SslCtxPtr ctx;
  if (level != Level::None) {
    std::optional<policy::TlsRange> range;
    if (plan.protocols) {
      auto r = policy::parse_protocols(*plan.protocols);
      if (!r) co_return refuse(r.error());
      range = *r;
    }
    auto c = tls::client_context({.authenticated = authenticates(level),
                                  .protocols = range,
                                  .cipher_grade = plan.ciphers,
                                  .cafile = options.cafile,
                                  .capath = options.capath});
    if (!c) co_return refuse(c.error());
    ctx = std::move(*c);
  }

  auto ex = co_await asio::this_coro::executor;
  net::Watchdog watchdog(ex, options.timeout);
  auto mode = level == Level::None ? proto::Upgrade::Never
              : options.try_starttls ? proto::Upgrade::Always
                                     : proto::Upgrade::IfOffered;
  Attempt a = co_await attempt({target, options, plan, ctx.get(), mode, watchdog});
  o.address = a.address;
  o.timing = a.timing;
  o.events = a.events;
  if (!target.protocol.implicit_tls && !a.error) o.signals.starttls_offered = a.facts.starttls_offered;
  o.capabilities.plaintext = a.facts.caps_plain;
  dialogue_events(a.facts, a.tls.has_value(), o);

  // R2: under an opportunistic level a failed handshake is retried in cleartext — never when
  // TLS was required, and never for implicit TLS, where no cleartext exists.
  if (a.handshake_error && is_opportunistic(level) && !target.protocol.implicit_tls) {
    o.add(EventType::FallbackToCleartext, fmt::format("handshake failed: {}", a.handshake_error->detail));
    Attempt retry = co_await attempt({target, options, plan, ctx.get(), proto::Upgrade::Never, watchdog});
    retry.facts.starttls_offered = a.facts.starttls_offered;
    o.events.insert(o.events.end(), retry.events.begin(), retry.events.end());
    a = std::move(retry);
  }

  o.capabilities.tls = a.facts.caps_tls;
  o.signals.requiretls = a.tls && lists(a.facts.caps_tls, "REQUIRETLS");
  std::optional<policy::AuthCheck> auth;
  if (a.tls) {
    auth = policy::authenticate(level, *a.tls, plan.match);
    o.trust = policy::trust_of(*a.tls, auth->proof);
    o.tls = a.tls;
  }
  auto d = policy::decide(level, summarize(a, target.protocol.implicit_tls), auth);
  if (d.soft_fail) o.add(EventType::AuthSoftFail, auth->failure->detail);  // recorded, not enforced (R3)
  co_return finish(std::move(d));
}

}  // namespace ostls::probe
