#include "report/log_line.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ostls::report {
namespace {

std::string peer(const Outcome& o) {
  return fmt::format("{}[{}]:{}", o.host, o.address.empty() ? o.host : o.address, o.port);
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string key_exchange(const TlsFacts& t) {
  if (!t.group) return {};
  const auto& g = *t.group;
  if (g == "X25519" || g == "X448") return " key-exchange " + g;
  if (g.rfind("ffdhe", 0) == 0) return fmt::format(" key-exchange DHE ({} bits)", g.substr(5));
  return fmt::format(" key-exchange ECDHE ({})", g);
}

}  // namespace

std::string log_line(const Outcome& o) {
  const auto proto = upper(o.protocol);
  if (o.tls) {
    const auto& t = *o.tls;
    auto line = fmt::format("{} TLS connection established to {}: {} with cipher {} ({}/{} bits){}",
                            name(o.trust.value_or(Trust::Anonymous)), peer(o), t.version, t.cipher, t.bits,
                            t.alg_bits, key_exchange(t));
    if (t.server_signature) line += " server-signature " + *t.server_signature;
    if (t.server_digest) line += " server-digest " + *t.server_digest;
    return line;
  }
  if (o.address.empty()) {
    return fmt::format("No {} connection to {}:{}: {}", proto, o.host, o.port,
                       o.failure ? o.failure->detail : std::string("not attempted"));
  }
  std::string why;
  if (o.policy.effective == Level::None) {
    why = "policy none";
  } else if (o.has(EventType::FallbackToCleartext)) {
    why = "TLS handshake failed, continued in cleartext";
  } else if (o.signals.starttls_offered == false) {
    why = "STARTTLS not offered";
  } else if (o.has(EventType::StarttlsRefused)) {
    why = "STARTTLS refused";
  } else if (o.failure) {
    why = o.failure->detail;
  } else {
    why = "no TLS";
  }
  return fmt::format("Cleartext {} connection to {}: {}", proto, peer(o), why);
}

std::string reason_block(const Outcome& o) {
  std::string out;
  auto row = [&out](std::string_view key, const std::string& value) {
    out += fmt::format("  {:<11} {}\n", std::string(key) + ":", value);
  };
  std::string verdict(name(o.verdict));
  if (o.failure) {
    verdict += o.failure->result_type ? fmt::format(" ({}): {}", name(*o.failure->result_type), o.failure->detail)
                                      : fmt::format(": {}", o.failure->detail);
  }
  row("verdict", verdict);
  auto policy = fmt::format("{} ({})", name(o.policy.level), name(o.policy.source));
  if (o.policy.effective != o.policy.level) policy += fmt::format(", applied as {}", name(o.policy.effective));
  row("policy", policy);
  row("protection", o.auth_method == AuthMethod::None
                        ? std::string(name(o.protection))
                        : fmt::format("{} by {}", name(o.protection), name(o.auth_method)));
  if (o.tls && o.tls->peer) {
    const auto& p = *o.tls->peer;
    row("peer", fmt::format("{} (issuer {}), valid {} to {}", p.subject, p.issuer, p.not_before, p.not_after));
    row("spki", fmt::format("sha256 {}", p.spki_sha256));
    const auto& v = o.tls->verify;
    row("pkix", v.ok() ? std::string("chain and name verified")
                       : fmt::format("chain {}, name {}{}", v.chain_ok ? "ok" : "not verified",
                                     v.name_ok ? "ok" : "not matched", v.error.empty() ? "" : ": " + v.error));
  }
  if (o.signals.tlsa) {
    const auto& t = *o.signals.tlsa;
    row("tlsa", fmt::format("{} {} ({} record{}{})", t.owner, t.state, t.records.size(), t.records.size() == 1 ? "" : "s",
                            t.usable ? ", usable" : ""));
  }
  if (o.tls && o.tls->dane && o.tls->dane->matched) {
    row("dane", fmt::format("matched {} at depth {}", o.tls->dane->record, o.tls->dane->depth));
  }
  if (o.mx) {
    for (const auto& m : *o.mx) {
      row("mx", fmt::format("{} {} [{}] {}: {}", m.preference, m.host, m.address, name(m.verdict), m.detail));
    }
  }
  if (o.srv) {
    for (const auto& s : *o.srv) {
      const auto where = s.priority ? fmt::format("{} {} {}:{}", *s.priority, s.weight.value_or(0), s.target, s.port)
                                    : fmt::format("(no SRV) {}:{}", s.target, s.port);
      row("srv", fmt::format("{} [{}] {}: {}", where, s.address, name(s.verdict), s.detail));
    }
  }
  if (o.signals.requiretls) row("requiretls", "advertised after TLS (RFC 8689)");
  if (o.signals.tofu) row("tofu", *o.signals.tofu);
  if (const auto& m = o.signals.memory) {
    row("memory", fmt::format("STARTTLS last offered {}, TLS last completed {}", m->last_starttls.value_or("never"),
                              m->last_tls.value_or("never")));
  }
  if (const auto& m = o.signals.mta_sts; m && (m->txt_id || m->mode || m->error)) {
    std::string text = m->mode ? fmt::format("{} policy (id {}, {}), mx {}, max_age {}{}", *m->mode,
                                             m->policy_id.value_or("?"), m->source.value_or("?"),
                                             fmt::join(m->mx, ", "), m->max_age.value_or(0),
                                             m->mx_match ? fmt::format("; this MX matched {}", *m->mx_match) : "")
                               : std::string("no policy");
    if (m->error) text += fmt::format("; {}: {}", m->error_type ? name(*m->error_type) : "error", *m->error);
    row("mta-sts", text);
  }
  for (const auto& e : o.events) row("event", fmt::format("{}: {}", name(e.type), e.detail));
  return out;
}

}  // namespace ostls::report
