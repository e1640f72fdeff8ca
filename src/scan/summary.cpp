#include "scan/summary.hpp"

#include <algorithm>
#include <initializer_list>

#include <fmt/format.h>

#include "core/level.hpp"
#include "core/outcome.hpp"

namespace ostls::scan {
namespace {

using nlohmann::json;

// Every name of a closed vocabulary, in enumerator order: name() answers "?" past the last one
// (core/names.hpp), so vocabularies that grow need no change here.
template <class E>
void seed_all(Tally& t) {
  for (unsigned i = 0; i < 256; ++i) {
    const auto n = name(static_cast<E>(i));
    if (n == "?") break;
    t.seed(n);
  }
}

// The value at a path of object keys; nullptr when a key is missing or a step is not an object.
const json* at(const json& j, std::initializer_list<const char*> path) {
  const json* cur = &j;
  for (const char* key : path) {
    if (!cur->is_object()) return nullptr;
    const auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::string_view text(const json* j, std::string_view otherwise = {}) {
  return j != nullptr && j->is_string() ? std::string_view(j->get_ref<const std::string&>()) : otherwise;
}

bool is_true(const json* j) { return j != nullptr && j->is_boolean() && j->get<bool>(); }
bool is_false(const json* j) { return j != nullptr && j->is_boolean() && !j->get<bool>(); }

void add_certificate(Summary& s, const json& verify) {
  if (!verify.is_object()) return;
  if (is_true(at(verify, {"ok"}))) {
    ++s.certificates.verified;
    return;
  }
  const auto error = text(at(verify, {"error"}));
  if (error == "no peer certificate") {
    ++s.certificates.no_certificate;
    return;
  }
  if (is_false(at(verify, {"chain_ok"}))) {
    ++s.certificates.chain_failed;
    // tls.verify.error is "CHAIN ERROR" or "CHAIN ERROR; NAME ERROR" (tls/handshake.cpp): OpenSSL's
    // fixed words come first, the name error (which names hosts) is not a category.
    const auto chain = error.substr(0, error.find("; "));
    s.certificates.chain_errors.add(chain.empty() ? "unknown" : chain);
  }
  if (is_false(at(verify, {"name_ok"}))) ++s.certificates.name_failed;
}

void add_signals(Summary& s, const json& o) {
  const json* offered = at(o, {"signals", "starttls_offered"});
  const bool tls = at(o, {"tls"}) != nullptr && at(o, {"tls"})->is_object();
  if (is_true(offered)) {
    ++s.starttls.offered;
    if (!tls) ++s.starttls.offered_but_cleartext;
  } else if (is_false(offered)) {
    ++s.starttls.not_offered;
  } else {
    ++s.starttls.not_advertised;
  }
  if (is_true(at(o, {"signals", "requiretls"}))) ++s.requiretls;

  const json* tlsa = at(o, {"signals", "tlsa"});
  if (tlsa == nullptr || !tlsa->is_object()) {
    s.dane.tlsa.add("no-dns");
  } else {
    s.dane.tlsa.add(text(at(*tlsa, {"state"}), "unknown"));
    if (is_true(at(*tlsa, {"usable"}))) {
      ++s.dane.usable;
      if (text(at(o, {"verdict"})) != "ok") ++s.dane.failed;
    }
  }

  const json* rpt = at(o, {"signals", "tlsrpt"});
  s.tlsrpt.add(rpt != nullptr && rpt->is_object() ? text(at(*rpt, {"state"}), "not-reported") : "not-reported");

  const json* sts = at(o, {"signals", "mta_sts"});
  if (sts == nullptr || !sts->is_object()) {
    ++s.mta_sts.absent;
  } else {
    ++s.mta_sts.looked_up;
    s.mta_sts.mode.add(text(at(*sts, {"mode"}), "no-policy"));
    if (const auto type = text(at(*sts, {"error_type"})); !type.empty()) s.mta_sts.error_type.add(type);
  }
}

std::string percent(std::uint64_t n, std::uint64_t of) {
  if (of == 0) return "-";
  return fmt::format("{:.1f}%", 100.0 * static_cast<double>(n) / static_cast<double>(of));
}

std::string tally_text(const Tally& t, std::uint64_t of, bool skip_zero = false) {
  std::string out;
  for (const auto& [n, count] : t.rows()) {
    if (skip_zero && count == 0) continue;
    if (!out.empty()) out += " · ";
    out += fmt::format("{} {} ({})", n, count, percent(count, of));
  }
  return out.empty() ? "-" : out;
}

nlohmann::ordered_json tally_json(const Tally& t) {
  auto out = nlohmann::ordered_json::object();
  for (const auto& [n, count] : t.rows()) out[n] = count;
  return out;
}

}  // namespace

void Tally::seed(std::string_view name) { add(name, 0); }

void Tally::add(std::string_view name, std::uint64_t n) {
  const auto it = std::find_if(rows_.begin(), rows_.end(), [&](const auto& r) { return r.first == name; });
  if (it != rows_.end()) {
    it->second += n;
  } else if (rows_.size() + 1 < limits::max_tally_names || name == "other") {
    rows_.emplace_back(std::string(name), n);
  } else {
    add("other", n);  // the last row left is kept for "other"
  }
}

std::uint64_t Tally::operator[](std::string_view name) const {
  const auto it = std::find_if(rows_.begin(), rows_.end(), [&](const auto& r) { return r.first == name; });
  return it != rows_.end() ? it->second : 0;
}

Summary::Summary() {
  seed_all<Verdict>(verdict);
  seed_all<Protection>(protection);
  seed_all<AuthMethod>(auth_method);
  seed_all<Trust>(trust);
  trust.seed("none");  // JSON null: cleartext
  seed_all<Level>(effective);
  seed_all<PolicySource>(source);
  seed_all<EventType>(events);
}

void Summary::add(const nlohmann::json& o) {
  if (!o.is_object()) {
    add_unreadable();
    return;
  }
  ++targets;
  verdict.add(text(at(o, {"verdict"}), "unknown"));
  protection.add(text(at(o, {"protection"}), "unknown"));
  auth_method.add(text(at(o, {"auth_method"}), "unknown"));
  trust.add(text(at(o, {"trust"}), "none"));
  effective.add(text(at(o, {"policy", "effective"}), "unknown"));
  source.add(text(at(o, {"policy", "source"}), "unknown"));
  const auto method = text(at(o, {"auth_method"}));
  if (method == "dane-ee" || method == "dane-ta") ++dane.authenticated;
  if (method == "mta-sts") ++mta_sts.authenticated;

  if (const json* t = at(o, {"tls"}); t != nullptr && t->is_object()) {
    ++tls.sessions;
    tls.versions.add(text(at(*t, {"version"}), "unknown"));
    if (is_true(at(*t, {"pfs"}))) ++tls.pfs;
    if (const json* v = at(*t, {"verify"})) add_certificate(*this, *v);
  }
  add_signals(*this, o);

  // A target counts once per event type, however often the type occurs in its events.
  if (const json* ev = at(o, {"events"}); ev != nullptr && ev->is_array()) {
    std::vector<std::string_view> seen;
    for (const auto& e : *ev) {
      const auto type = text(at(e, {"type"}));
      if (type.empty() || std::find(seen.begin(), seen.end(), type) != seen.end()) continue;
      seen.push_back(type);
      events.add(type);
    }
  }
  if (const json* f = at(o, {"failure"}); f != nullptr && f->is_object()) {
    result_type.add(text(at(*f, {"result_type"}), "no-result-type"));
    fault.add(text(at(*f, {"fault"}), "unknown"));
  }
}

nlohmann::ordered_json to_json(const Summary& s) {
  using oj = nlohmann::ordered_json;
  return oj{
      {"targets", s.targets},
      {"unreadable_lines", s.unreadable},
      {"verdict", tally_json(s.verdict)},
      {"protection", tally_json(s.protection)},
      {"auth_method", tally_json(s.auth_method)},
      {"trust", tally_json(s.trust)},
      {"policy", {{"effective", tally_json(s.effective)}, {"source", tally_json(s.source)}}},
      {"starttls",
       {{"offered", s.starttls.offered},
        {"not_offered", s.starttls.not_offered},
        {"not_advertised", s.starttls.not_advertised},
        {"offered_but_cleartext", s.starttls.offered_but_cleartext}}},
      {"tls", {{"sessions", s.tls.sessions}, {"pfs", s.tls.pfs}, {"versions", tally_json(s.tls.versions)}}},
      {"certificates",
       {{"verified", s.certificates.verified},
        {"chain_failed", s.certificates.chain_failed},
        {"name_failed", s.certificates.name_failed},
        {"no_certificate", s.certificates.no_certificate},
        {"chain_errors", tally_json(s.certificates.chain_errors)}}},
      {"dane",
       {{"tlsa", tally_json(s.dane.tlsa)},
        {"usable", s.dane.usable},
        {"authenticated", s.dane.authenticated},
        {"failed", s.dane.failed}}},
      {"mta_sts",
       {{"looked_up", s.mta_sts.looked_up},
        {"absent", s.mta_sts.absent},
        {"mode", tally_json(s.mta_sts.mode)},
        {"error_type", tally_json(s.mta_sts.error_type)},
        {"authenticated", s.mta_sts.authenticated}}},
      {"tlsrpt", tally_json(s.tlsrpt)},
      {"requiretls", s.requiretls},
      {"events", tally_json(s.events)},
      {"failures", {{"result_type", tally_json(s.result_type)}, {"fault", tally_json(s.fault)}}},
  };
}

std::string to_text(const Summary& s) {
  const auto n = s.targets;
  std::string out;
  auto line = [&out](std::string_view topic, const std::string& body) {
    out += fmt::format("{:<14}{}\n", topic, body);
  };
  line("targets", s.unreadable == 0 ? fmt::format("{}", n)
                                    : fmt::format("{} ({} unreadable lines not counted)", n, s.unreadable));
  line("verdict", tally_text(s.verdict, n));
  line("protection", tally_text(s.protection, n));
  line("auth_method", tally_text(s.auth_method, n));
  line("trust", tally_text(s.trust, n));
  line("effective", tally_text(s.effective, n, true));
  line("source", tally_text(s.source, n, true));
  line("starttls", fmt::format("offered {} ({}) · not offered {} · not advertised by the protocol {} · "
                               "offered but cleartext {} ({} of offered)",
                               s.starttls.offered, percent(s.starttls.offered, n), s.starttls.not_offered,
                               s.starttls.not_advertised, s.starttls.offered_but_cleartext,
                               percent(s.starttls.offered_but_cleartext, s.starttls.offered)));
  line("tls", fmt::format("{} sessions ({}) · {} · pfs {} ({} of sessions)", s.tls.sessions,
                          percent(s.tls.sessions, n), tally_text(s.tls.versions, s.tls.sessions), s.tls.pfs,
                          percent(s.tls.pfs, s.tls.sessions)));
  line("certificates",
       fmt::format("verified {} ({} of sessions) · chain not verified {} · name mismatch {} · no certificate {}{}",
                   s.certificates.verified, percent(s.certificates.verified, s.tls.sessions),
                   s.certificates.chain_failed, s.certificates.name_failed, s.certificates.no_certificate,
                   s.certificates.chain_errors.rows().empty()
                       ? std::string()
                       : " · " + tally_text(s.certificates.chain_errors, s.tls.sessions)));
  line("dane", fmt::format("tlsa {} · usable {} · authenticated {} · failed {}", tally_text(s.dane.tlsa, n),
                           s.dane.usable, s.dane.authenticated, s.dane.failed));
  line("mta-sts", fmt::format("looked up {} ({}) · not reported {} · mode {} · errors {} · authenticated {}",
                              s.mta_sts.looked_up, percent(s.mta_sts.looked_up, n), s.mta_sts.absent,
                              tally_text(s.mta_sts.mode, s.mta_sts.looked_up),
                              tally_text(s.mta_sts.error_type, s.mta_sts.looked_up), s.mta_sts.authenticated));
  line("tls-rpt", tally_text(s.tlsrpt, n));
  line("requiretls", fmt::format("{} ({})", s.requiretls, percent(s.requiretls, n)));
  out += "events        targets with at least one of the type\n";
  for (const auto& [type, count] : s.events.rows()) out += fmt::format("  {:<32}{:>8} ({})\n", type, count, percent(count, n));
  line("failures", tally_text(s.result_type, n, true));
  line("faults", tally_text(s.fault, n, true));
  return out;
}

}  // namespace ostls::scan
