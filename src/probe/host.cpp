// One host of a target, top-down: DNS (addresses, TLSA) → the level DNS leaves in force →
// connect → dialogue → STARTTLS → handshake (DANE through OpenSSL when TLSA is usable) → what
// the level demands (R3–R8) → R2 cleartext retry where allowed → one Outcome.
#include "probe/host.hpp"

#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "dns/records.hpp"
#include "net/connect.hpp"
#include "net/drive.hpp"
#include "policy/decide.hpp"
#include "policy/tls_versions.hpp"
#include "protocols/client.hpp"
#include "protocols/text.hpp"
#include "store/store.hpp"
#include "tls/context.hpp"
#include "tls/dane.hpp"
#include "tls/handshake.hpp"

namespace ostls::probe {

using net::Clock;

double ms(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

Plan plan_for(const Target& t, const Options& o) {
  Plan p;
  p.policy.level = o.level;
  p.policy.source = o.level_source;
  p.match = o.match;
  p.servername = o.servername;
  if (const auto* e = o.policy_map ? o.policy_map->lookup(t.host, t.port) : nullptr) {
    p.policy.level = e->level;
    p.policy.source = PolicySource::PolicyMap;
    if (!e->match.empty()) p.match = e->match;
    if (e->servername) p.servername = *e->servername;
    p.protocols = e->protocols;
    p.ciphers = e->ciphers;
    p.sticky = e->sticky;
  }
  p.sticky = p.sticky || o.sticky;
  p.policy.effective = p.policy.level;
  return p;
}

Outcome outcome_for(const Target& target, const std::string& host, std::uint16_t port, const Plan& plan) {
  Outcome o;
  o.target = target.text;
  o.protocol = std::string(target.protocol.canonical);
  o.host = host;
  o.port = port;
  o.policy = plan.policy;
  return o;
}

namespace {

// Everything the connection attempts to one host share, decided before the first one.
struct Session {
  const HostJob& job;
  const Options& options;
  Level level;                             // the effective level
  std::string servername;                  // SNI
  std::vector<std::string> reference_ids;  // checked and recorded at every level
  SSL_CTX* ctx = nullptr;                  // null when the level never does TLS
  const dane::TlsaSet* dane = nullptr;     // set when DANE authentication is enforced
  std::vector<std::string> dane_names;     // DANE-TA reference identifiers (RFC 7672 §3.2.2)
  const std::vector<std::string>& addresses;
  net::Watchdog& watchdog;
};

struct Attempt {
  std::optional<net::Channel> channel;   // Options::held: the open connection
  std::string greeting;                  // Options::held: the greeting lines as received
  proto::Facts facts;
  std::optional<Error> error;            // dialogue ended early
  std::optional<Error> handshake_error;  // TLS handshake failed
  std::optional<TlsFacts> tls;
  std::string address;
  std::vector<Event> events;
  Timing timing;
};

// Everything a resumed session's authentication depends on (tls/resume.hpp): the address and
// port, SNI, the context (trust anchors, versions, ciphers), the level, the names checked and the
// usable TLSA records.
std::string resumption_key(const Session& s, const Attempt& a) {
  std::string key = fmt::format("{}\n{}\n{}\n{}\n{}\n", a.address, s.job.port, s.servername,
                                fmt::ptr(s.ctx), name(s.level));
  for (const auto& id : s.reference_ids) key += id + ",";
  if (s.dane) {
    for (const auto& r : s.dane->usable) key += "\n" + r.to_string();
  }
  return key;
}

// Runs the TLS handshake on the channel; the facts are read at once (R3: always recorded).
net::awaitable<void> upgrade(net::Channel& ch, const Session& s, Attempt& a) {
  auto ssl = tls::client_session(s.ctx, {.sni = s.servername});
  if (!ssl) {
    a.error = ssl.error();
    co_return;
  }
  if (s.dane) {
    auto setup = tls::enable_dane(ssl->get(), {.base_domain = s.dane_names.front(),
                                               .extra_names = s.dane_names,
                                               .records = s.dane->usable});
    if (!setup) {
      a.error = setup.error();
      co_return;
    }
    if (setup->added == 0) {
      // Policy found usable records but OpenSSL accepted none: without them OpenSSL would fall
      // back to PKIX, so stop here rather than authenticate by something the TLSA did not say.
      std::string list;
      for (const auto& r : setup->rejected) list += (list.empty() ? "" : "; ") + r;
      a.error = Error{Errc::Tls, Fault::Peer, fmt::format("OpenSSL found no usable TLSA record among: {}", list)};
      co_return;
    }
  }
  const bool resuming = s.options.sessions != nullptr && s.options.contexts != nullptr;
  if (resuming) s.options.sessions->arm(ssl->get(), resumption_key(s, a));
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
  a.tls = tls::handshake_facts(ch.ssl(), s.reference_ids, s.dane != nullptr);
  if (resuming && SSL_session_reused(ch.ssl()) == 1) {
    // The session's verification is the full handshake's (its key named the same DANE records).
    a.tls->resumed = true;
    if (s.dane) a.tls->dane = tls::SessionCache::inherited_dane(ch.ssl());
  }
}

// The XMPP stream's `to`: the service domain for an SRV target (RFC 6120 §4.7.2, while DANE
// and SNI use the target host, RFC 7673 §4.1), else the name sent as SNI.
std::string xmpp_domain(const Session& s) {
  return s.job.srv ? s.job.srv->service_domain : s.servername;
}

net::awaitable<Attempt> attempt(const Session& s, proto::Upgrade mode) {
  Attempt a;
  const auto& t = s.job.target;
  const auto start = Clock::now();
  auto conn = co_await net::connect(s.job.host, s.job.port, s.addresses, s.watchdog, s.options.socket_mark);
  a.timing.connect = ms(start, Clock::now());
  if (!conn) {
    a.error = conn.error();
    co_return a;
  }
  a.address = conn->address;
  const bool hold = s.options.held != nullptr;
  // Options::held: the greeting is every line received before the first one sent.
  struct Greeting {
    std::string lines;
    bool done = false;
  };
  auto greeting = std::make_shared<Greeting>();
  net::Transcript transcript = s.options.transcript;
  if (hold) {
    transcript = [greeting, inner = s.options.transcript](net::Direction d, std::string_view line) {
      if (!greeting->done && d == net::Direction::Received) greeting->lines.append(line).append("\r\n");
      if (d == net::Direction::Sent) greeting->done = true;
      if (inner) inner(d, line);
    };
  }
  net::Channel ch(std::move(conn->socket), s.options.limits, transcript);
  s.watchdog.on_expiry([&ch] { ch.abort(); });
  const auto connected = Clock::now();

  proto::AnyClient machine(t.protocol.family, {.helo = s.options.helo,
                                                .xmpp_domain = s.options.xmpp_domain.value_or(xmpp_domain(s)),
                                                .implicit_tls = t.protocol.implicit_tls,
                                                .upgrade = mode,
                                                .helo_fallback = !requires_tls(s.level),
                                                .limits = s.options.limits});
  proto::Step step = machine.start();
  if (t.protocol.implicit_tls) {
    co_await upgrade(ch, s, a);
    if (!a.tls) {
      s.watchdog.clear();
      co_return a;
    }
    step = machine.on_tls_established();
  }
  for (;;) {
    auto r = co_await net::drive(machine, ch, std::move(step), !hold);
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
                                      leftover.size(), proto::excerpt(leftover))});
    }
    co_await upgrade(ch, s, a);
    if (a.handshake_error && a.handshake_error->code == Errc::Closed) {
      a.events.push_back({EventType::ResetAfterStarttls,
                          fmt::format("connection closed after the STARTTLS reply: {}", a.handshake_error->detail)});
    }
    if (!a.tls) break;
    step = machine.on_tls_established();
  }
  s.watchdog.clear();
  a.facts = machine.facts();
  if (hold && !a.error && !a.handshake_error) {
    ch.set_transcript(s.options.transcript);
    a.greeting = std::move(greeting->lines);
    a.channel.emplace(std::move(ch));
  }
  co_return a;
}

// Downgrade indicators visible in one dialogue, whatever the protocol (SPEC R11).
void dialogue_events(const proto::Facts& f, Outcome& o) {
  o.events.insert(o.events.end(), f.events.begin(), f.events.end());
  if (f.refusal && f.starttls_offered.value_or(false)) {
    o.add(EventType::StarttlsRefused, fmt::format("upgrade advertised, then refused: {}", *f.refusal));
  }
  // Only where the protocol advertises the upgrade at all: LDAP and PostgreSQL have nothing to
  // advertise (starttls_offered nullopt), so their accepted upgrade says nothing.
  if (f.starttls_accepted && f.starttls_offered.has_value() && !*f.starttls_offered) {
    o.add(EventType::StarttlsAcceptedUnadvertised, "the upgrade was not advertised but the peer accepted it");
  }
  if (f.tls_established && f.offered_after_tls) {
    o.add(EventType::StarttlsAfterTls, "the upgrade is still advertised after TLS was established");
  }
}

policy::AttemptSummary summarize(const Attempt& a, bool implicit_tls) {
  policy::AttemptSummary s;
  s.error = a.error;
  s.handshake_error = a.handshake_error;
  s.tls = a.tls.has_value();
  s.implicit_tls = implicit_tls;
  s.starttls_offered = a.facts.starttls_offered.value_or(false);
  s.refusal = a.facts.refusal;
  return s;
}

TlsaSignal tlsa_signal(const dane::TlsaSet& set) {
  TlsaSignal sig{.state = std::string(dane::name(set.state)), .owner = set.owner, .records = {},
                 .usable = !set.usable.empty()};
  for (const auto& r : set.records) {
    sig.records.push_back({.usage = r.usage, .selector = r.selector, .mtype = r.mtype, .data = r.data_hex()});
  }
  return sig;
}

// The TLSA base domain is the owner name without its "_port._tcp." prefix.
std::string base_of(const std::string& owner) {
  const auto dot = owner.find("._tcp.");
  return dot == std::string::npos ? owner : owner.substr(dot + 6);
}

// The name sent as SNI when DANE does not decide it: for an SRV target (RFC 7673 §4.1) the
// target host when the SRV RRset was secure, else the service domain; otherwise the host.
std::string preferred_name(const HostJob& job) {
  if (!job.srv) return job.host;
  return job.srv->secure ? dns::normalize_name(job.host) : job.srv->service_domain;
}

// Reference identifiers for the name check (recorded at every level, enforced at verify/secure).
std::vector<std::string> reference_ids(Level level, const Plan& p, const HostJob& job, const std::string& servername,
                                       bool ip_literal) {
  if ((level == Level::Verify || level == Level::Secure) && !p.match.empty()) return p.match;
  if (job.srv && !p.servername) {
    // RFC 7673 §4.1: a secure SRV RRset makes both the target host and the service domain
    // reference identifiers; an insecure one only the service domain, never the target.
    std::vector<std::string> ids;
    if (job.srv->secure) ids.push_back(dns::normalize_name(job.host));
    ids.push_back(job.srv->service_domain);
    if (level == Level::Secure) ids.push_back("." + job.srv->service_domain);
    return ids;
  }
  std::vector<std::string> ids{servername};
  // Postfix `secure` default: nexthop and dot-nexthop; for [host] targets the nexthop is the host.
  if (level == Level::Secure && !ip_literal) ids.push_back("." + servername);
  return ids;
}

// What the store remembers of one peer, read before connecting.
struct Remembered {
  std::optional<store::PeerKey> key;  // nullopt: no store (--no-store)
  std::optional<store::Pin> pin;
  std::optional<store::Memory> memory;
};

Result<Remembered> recall(const HostJob& job, const Options& options) {
  Remembered r;
  if (options.store == nullptr) return r;
  r.key = store::PeerKey{dns::normalize_name(job.host), job.port, std::string(job.target.protocol.canonical)};
  auto pin = options.store->pin(*r.key);
  if (!pin) return unexpected<Error>(pin.error());
  auto memory = options.store->memory(*r.key);
  if (!memory) return unexpected<Error>(memory.error());
  r.pin = std::move(*pin);
  r.memory = std::move(*memory);
  return r;
}

// TOFU (RFC 7435 §1.3): which pin state the handshake met, the key-change event, and what the
// store must now hold. First encrypted contact pins under `tofu` and `opportunistic`; a DANE
// authentication vouches for a new key, so the pin follows it silently.
Result<void> tofu_after(const Remembered& r, Level level, bool opportunistic, const TlsFacts& tls,
                        const std::optional<policy::AuthCheck>& auth, store::Store* db, Outcome& o) {
  if (!tls.peer) return {};
  const auto& spki = tls.peer->spki_sha256;
  const bool consulted = level == Level::Tofu || opportunistic;
  if (consulted) {
    o.signals.tofu = !r.pin ? "new" : r.pin->spki_sha256 == spki ? "match" : "mismatch";
    if (r.pin && r.pin->spki_sha256 != spki) {
      o.add(EventType::TofuKeyChanged,
            fmt::format("the peer presents key {}, but key {} is pinned (since {}); `ostls tofu pin` accepts the new key",
                        spki, r.pin->spki_sha256, store::iso_time(r.pin->first_seen)));
    }
  }
  if (db == nullptr || !r.key) return {};
  const bool vouched = auth && auth->proof &&
                       (auth->proof->method() == AuthMethod::DaneEe || auth->proof->method() == AuthMethod::DaneTa ||
                        auth->proof->method() == AuthMethod::MtaSts);
  const auto t = store::now();
  if (r.pin && r.pin->spki_sha256 == spki) return db->touch_pin(*r.key, t);
  // Under `opportunistic` a pin makes later contacts `tofu`, with R6's stricter crypto: pin only a
  // session that would meet it, or a legacy peer would fail forever after its first contact.
  const bool meets_r6 = (tls.version == "TLSv1.2" || tls.version == "TLSv1.3") && tls.pfs &&
                        (tls.cipher.find("GCM") != std::string::npos || tls.cipher.find("CHACHA20") != std::string::npos);
  if (!r.pin && (level == Level::Tofu || (opportunistic && meets_r6))) return db->set_pin(*r.key, spki, t);
  if (vouched) return db->set_pin(*r.key, spki, t);
  return {};
}

}  // namespace

net::awaitable<Outcome> probe_host(const HostJob& job, const Plan& plan, const Options& options,
                                   net::Watchdog& watchdog, Clock::time_point deadline) {
  const auto start = Clock::now();
  const auto& target = job.target;
  Outcome o = outcome_for(target, job.host, job.port, plan);

  auto finish = [&](policy::Decision d) {
    o.verdict = d.verdict;
    o.protection = d.protection;
    o.auth_method = d.auth_method;
    o.failure = d.failure;
    o.timing.total = ms(start, Clock::now());
    return o;
  };
  auto stop = [&](Verdict v, Failure f) { return finish({.verdict = v, .failure = std::move(f)}); };
  auto refuse = [&](const Error& e) {
    return stop(policy::verdict_for(e), Failure{.result_type = std::nullopt, .fault = e.fault, .detail = e.detail});
  };

  // DNS: addresses and, where a level wants it, TLSA (RFC 7672 §2.2).
  const HostDns dns = co_await discover(job, plan.policy.level, options, deadline);
  o.signals.address = dns.address_state;
  if (dns.tlsa_asked) o.signals.tlsa = tlsa_signal(dns.tlsa);
  if (dns.stop) co_return stop(*dns.stop, *dns.failure);
  const auto effect = dane::apply(plan.policy.level, plan.policy.source, dns.tlsa);
  o.policy.effective = effect.effective;
  o.policy.source = effect.source;
  if (effect.stop) co_return stop(*effect.stop, *effect.failure);
  if (dns.tlsa.state == dane::TlsaState::Unusable) {
    o.add(EventType::AuthSoftFail, fmt::format("{} has only unusable TLSA records: TLS required, not authenticated",
                                               dns.tlsa.owner));
  }
  auto remembered = recall(job, options);
  if (!remembered) co_return refuse(remembered.error());  // never guess that nothing was pinned
  if (const auto& m = remembered->memory) {
    o.signals.memory = MemorySignal{.last_starttls = m->last_starttls ? std::optional(store::iso_time(*m->last_starttls))
                                                                      : std::nullopt,
                                    .last_tls = m->last_tls ? std::optional(store::iso_time(*m->last_tls)) : std::nullopt};
  }
  // SPEC §1 `opportunistic`: … > usable DANE > MTA-STS > TOFU pin > unauthenticated encryption.
  // (dane::apply() has already turned `opportunistic` without usable TLSA into `may`; a secure
  // TLSA RRset, usable or not, preempts MTA-STS too: RFC 8461 §2.)
  const bool opportunistic = plan.policy.level == Level::Opportunistic && o.policy.source != PolicySource::Dane;
  const mtasts::Policy* sts = nullptr;
  if (job.sts) {
    o.signals.mta_sts = job.sts->signal;
    if (opportunistic && job.sts->policy && job.sts->policy->mode != mtasts::Mode::None) sts = &*job.sts->policy;
    if (sts) {
      if (const auto m = mtasts::matching_pattern(*sts, job.host)) o.signals.mta_sts->mx_match = std::string(*m);
    }
  }
  const bool mx_listed = o.signals.mta_sts && o.signals.mta_sts->mx_match;
  const bool sts_enforced = sts && sts->mode == mtasts::Mode::Enforce;
  Level level = o.policy.effective == Level::Opportunistic ? Level::May : o.policy.effective;
  if (sts_enforced) {
    // RFC 8461 §4: the MX host must be listed and present a certificate valid for its name.
    level = Level::Verify;
    o.policy.source = PolicySource::MtaSts;
    o.policy.effective = level;
    if (!mx_listed) {
      co_return stop(Verdict::Fail,
                     Failure{.result_type = ResultType::ValidationFailure,
                             .fault = Fault::Peer,
                             .detail = fmt::format("MX host {} matches no mx pattern of the MTA-STS policy of {} "
                                                   "(mode enforce; mx: {}): no delivery to it (RFC 8461 §4.1)",
                                                   job.host, dns::normalize_name(target.host),
                                                   fmt::join(sts->mx, ", "))});
    }
  } else if (opportunistic && remembered->pin) {
    level = Level::Tofu;
    o.policy.source = PolicySource::Tofu;
  }
  o.policy.effective = level;
  if (!is_implemented(level)) {
    co_return refuse({Errc::Usage, Fault::Config, fmt::format("level {} is not available yet", name(level))});
  }

  const bool use_dane = level == Level::DaneOnly && dns.tlsa.state == dane::TlsaState::Usable;
  std::vector<std::string> dane_names;
  if (use_dane) {
    // RFC 7672 §3.2.2: the TLSA base domain first (also sent as SNI), then the host name and,
    // when the MX RRset was secure, the next-hop domain. For an SRV target (RFC 7673 §4.2,
    // §6: the certificate names the target host and/or the service domain) the same list:
    // `nexthop` is the service domain, set only when the SRV RRset was secure — and without a
    // secure SRV RRset there is no usable TLSA here at all (discover()).
    dane_names = {base_of(dns.tlsa.owner)};
    for (const auto& n : {dns::normalize_name(job.host), dns.canonical, job.nexthop.value_or("")}) {
      if (!n.empty() && std::find(dane_names.begin(), dane_names.end(), n) == dane_names.end()) dane_names.push_back(n);
    }
  }
  const std::string servername = plan.servername.value_or(use_dane ? dane_names.front() : preferred_name(job));
  o.servername = servername;
  const bool ip_literal = target.is_ip_literal && job.host == target.host;

  if (level == Level::None && target.protocol.implicit_tls) {
    co_return finish(policy::decide(level, {.implicit_tls = true}, std::nullopt));
  }
  tls::SslCtxPtr own_ctx;
  SSL_CTX* ctx = nullptr;
  if (level != Level::None) {
    std::optional<policy::TlsRange> range;
    if (plan.protocols) {
      auto r = policy::parse_protocols(*plan.protocols);
      if (!r) co_return refuse(r.error());
      range = *r;
    }
    const tls::ClientParams params{.authenticated = authenticates(level),
                                   .protocols = range,
                                   .cipher_grade = plan.ciphers,
                                   .cafile = options.cafile,
                                   .capath = options.capath,
                                   .dane = use_dane};
    if (options.contexts != nullptr) {
      auto c = options.contexts->get(params);
      if (!c) co_return refuse(c.error());
      ctx = *c;
    } else {
      auto c = tls::client_context(params);
      if (!c) co_return refuse(c.error());
      own_ctx = std::move(*c);
      ctx = own_ctx.get();
    }
  }

  const Session session{.job = job,
                        .options = options,
                        .level = level,
                        .servername = servername,
                        .reference_ids = use_dane ? dane_names : reference_ids(level, plan, job, servername, ip_literal),
                        .ctx = ctx,
                        .dane = use_dane ? &dns.tlsa : nullptr,
                        .dane_names = dane_names,
                        .addresses = dns.addresses,
                        .watchdog = watchdog};
  const auto mode = level == Level::None ? proto::Upgrade::Never
                    : options.try_starttls ? proto::Upgrade::Always
                                           : proto::Upgrade::IfOffered;
  Attempt a = co_await attempt(session, mode);
  o.address = a.address;
  o.timing = a.timing;
  o.events.insert(o.events.end(), a.events.begin(), a.events.end());
  if (!target.protocol.implicit_tls && !a.error) o.signals.starttls_offered = a.facts.starttls_offered;
  o.signals.starttls_required = a.facts.starttls_required;
  o.capabilities.plaintext = a.facts.caps_plain;
  dialogue_events(a.facts, o);

  const bool handshake_failed = a.handshake_error.has_value();
  const bool offered = target.protocol.implicit_tls || a.facts.starttls_offered.value_or(false);
  // R2: under an opportunistic level a failed handshake is retried in cleartext — never when
  // TLS was required, and never for implicit TLS, where no cleartext exists.
  if (a.handshake_error && is_opportunistic(level) && !target.protocol.implicit_tls) {
    o.add(EventType::FallbackToCleartext, fmt::format("handshake failed: {}", a.handshake_error->detail));
    Attempt retry = co_await attempt(session, proto::Upgrade::Never);
    retry.facts.starttls_offered = a.facts.starttls_offered;
    o.events.insert(o.events.end(), retry.events.begin(), retry.events.end());
    a = std::move(retry);
  }

  o.capabilities.tls = a.facts.caps_tls;
  o.signals.requiretls = a.tls && a.facts.requiretls;
  std::optional<policy::AuthCheck> auth;
  if (a.tls) {
    const auto pinned = remembered->pin ? std::optional(remembered->pin->spki_sha256) : std::nullopt;
    auth = policy::authenticate(level, *a.tls, plan.match, pinned, sts_enforced);
    o.trust = policy::trust_of(*a.tls, auth->proof);
    o.tls = a.tls;
  }
  auto d = policy::decide(level, summarize(a, target.protocol.implicit_tls), auth);
  if (d.soft_fail) o.add(EventType::AuthSoftFail, auth->failure->detail);  // recorded, not enforced (R3)
  if (sts && sts->mode == mtasts::Mode::Testing && !a.error) {
    // RFC 8461 §5: a testing policy is reported on, never enforced.
    if (const auto f = policy::sts_check(mx_listed, a.tls ? &*a.tls : nullptr)) {
      o.add(EventType::MtaStsTestingFailure,
            fmt::format("the MTA-STS policy of {} (mode testing, not enforced) would refuse this session: {}",
                        dns::normalize_name(target.host), f->detail));
    }
  }
  if (a.tls) {
    if (auto w = tofu_after(*remembered, level, opportunistic, *a.tls, auth, options.store, o); !w) {
      co_return refuse(w.error());
    }
  }

  // R11: the peer completed TLS before; now the dialogue got through without it. (A dialogue
  // that ended early — connection refused, a rejecting greeting — says nothing about TLS.)
  const bool reached = !a.address.empty() && !a.error;
  const auto& mem = remembered->memory;
  if (reached && level != Level::None && !a.tls && mem && mem->last_tls) {
    const std::string now_seen = handshake_failed ? "the TLS handshake failed"
                                 : a.facts.refusal ? fmt::format("STARTTLS was refused ({})", *a.facts.refusal)
                                 : offered         ? "TLS was not completed"
                                                   : "STARTTLS is not offered";
    const auto detail = fmt::format("{} now, but the peer completed TLS on {}", now_seen, store::iso_time(*mem->last_tls));
    o.add(EventType::DowngradeSuspected, detail);
    if (plan.sticky && d.verdict == Verdict::Ok) {
      d.verdict = Verdict::Fail;
      d.failure = Failure{.result_type = ResultType::StarttlsNotSupported,
                          .fault = Fault::Peer,
                          .detail = fmt::format("downgrade suspected and the policy is sticky: {}", detail)};
    }
  }
  if (reached && remembered->key) {
    auto w = options.store->remember(*remembered->key,
                                     {.starttls_offered = offered, .tls_completed = a.tls.has_value(), .at = store::now()});
    if (!w) co_return refuse(w.error());
  }
  if (options.held && d.verdict == Verdict::Ok && a.channel) {
    options.held->channel = std::move(a.channel);
    options.held->greeting = std::move(a.greeting);
  }
  co_return finish(std::move(d));
}

}  // namespace ostls::probe
