#include "report/json.hpp"

#include <nlohmann/json.hpp>

#include "report/log_line.hpp"

namespace ostls::report {
namespace {

using nlohmann::json;

template <class T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json tls_json(const TlsFacts& t) {
  json peer = nullptr;
  if (t.peer) {
    peer = {{"subject", t.peer->subject},         {"issuer", t.peer->issuer},
            {"not_before", t.peer->not_before},   {"not_after", t.peer->not_after},
            {"spki_sha256", t.peer->spki_sha256}, {"cert_sha256", t.peer->cert_sha256},
            {"key", t.peer->key}};
  }
  return {{"version", t.version},
          {"cipher", t.cipher},
          {"bits", t.bits},
          {"group", opt(t.group)},
          {"pfs", t.pfs},
          {"resumed", t.resumed},
          {"server_signature", opt(t.server_signature)},
          {"server_digest", opt(t.server_digest)},
          {"peer", peer},
          {"verify",
           {{"ok", t.verify.ok()},
            {"chain_ok", t.verify.chain_ok},
            {"name_ok", t.verify.name_ok},
            {"error", t.verify.error.empty() ? json(nullptr) : json(t.verify.error)}}}};
}

json mta_sts_json(const std::optional<MtaStsSignal>& m) {
  if (!m) return nullptr;
  return {{"txt_id", opt(m->txt_id)},
          {"policy_id", opt(m->policy_id)},
          {"mode", opt(m->mode)},
          {"mx", m->mx},
          {"max_age", opt(m->max_age)},
          {"source", opt(m->source)},
          {"error", opt(m->error)},
          {"error_type", m->error_type ? json(name(*m->error_type)) : json(nullptr)},
          {"mx_match", opt(m->mx_match)}};
}

json tlsa_json(const std::optional<TlsaSignal>& t) {
  if (!t) return nullptr;
  json records = json::array();
  for (const auto& r : t->records) {
    records.push_back({{"usage", r.usage}, {"selector", r.selector}, {"mtype", r.mtype}, {"data", r.data}});
  }
  return {{"state", t->state}, {"owner", t->owner}, {"records", records}, {"usable", t->usable}};
}

json mx_json(const std::optional<std::vector<MxAttempt>>& mx) {
  if (!mx) return nullptr;
  json out = json::array();
  for (const auto& m : *mx) {
    out.push_back({{"host", m.host},
                   {"preference", m.preference},
                   {"address", m.address.empty() ? json(nullptr) : json(m.address)},
                   {"verdict", name(m.verdict)},
                   {"protection", name(m.protection)},
                   {"detail", m.detail}});
  }
  return out;
}

json srv_json(const std::optional<std::vector<SrvAttempt>>& srv) {
  if (!srv) return nullptr;
  json out = json::array();
  for (const auto& s : *srv) {
    out.push_back({{"target", s.target},
                   {"port", s.port},
                   {"priority", opt(s.priority)},
                   {"weight", opt(s.weight)},
                   {"address", s.address.empty() ? json(nullptr) : json(s.address)},
                   {"verdict", name(s.verdict)},
                   {"protection", name(s.protection)},
                   {"detail", s.detail}});
  }
  return out;
}

}  // namespace

json to_json(const Outcome& o) {
  json events = json::array();
  for (const auto& e : o.events) events.push_back({{"type", name(e.type)}, {"detail", e.detail}});
  json failure = nullptr;
  if (o.failure) {
    failure = {{"result_type", o.failure->result_type ? json(name(*o.failure->result_type)) : json(nullptr)},
               {"fault", name(o.failure->fault)},
               {"detail", o.failure->detail}};
  }
  return {
      {"target", o.target},
      {"protocol", o.protocol},
      {"host", o.host},
      {"address", o.address.empty() ? json(nullptr) : json(o.address)},
      {"port", o.port},
      {"servername", o.servername},
      {"policy", {{"level", name(o.policy.level)}, {"effective", name(o.policy.effective)}, {"source", name(o.policy.source)}}},
      {"verdict", name(o.verdict)},
      {"protection", name(o.protection)},
      {"auth_method", name(o.auth_method)},
      {"trust", o.trust ? json(name(*o.trust)) : json(nullptr)},
      {"tls", o.tls ? tls_json(*o.tls) : json(nullptr)},
      {"signals",
       {{"starttls_offered", opt(o.signals.starttls_offered)},
        {"starttls_required", opt(o.signals.starttls_required)},
        {"requiretls", o.signals.requiretls},
        {"mx", opt(o.signals.mx)},
        {"srv", opt(o.signals.srv)},
        {"address", opt(o.signals.address)},
        {"tlsa", tlsa_json(o.signals.tlsa)},
        {"tofu", opt(o.signals.tofu)},
        {"memory", o.signals.memory ? nlohmann::json{{"last_starttls", opt(o.signals.memory->last_starttls)},
                                                     {"last_tls", opt(o.signals.memory->last_tls)}}
                                    : nlohmann::json()},
        {"mta_sts", mta_sts_json(o.signals.mta_sts)},
        {"tlsrpt", o.signals.tlsrpt ? json{{"state", o.signals.tlsrpt->state},
                                           {"rua", o.signals.tlsrpt->rua},
                                           {"error", opt(o.signals.tlsrpt->error)}}
                                    : json(nullptr)}}},
      {"mx", mx_json(o.mx)},
      {"srv", srv_json(o.srv)},
      {"capabilities", {{"plaintext", o.capabilities.plaintext}, {"tls", o.capabilities.tls}}},
      {"events", events},
      {"failure", failure},
      {"timing_ms",
       {{"connect", opt(o.timing.connect)},
        {"greeting", opt(o.timing.greeting)},
        {"starttls", opt(o.timing.starttls)},
        {"handshake", opt(o.timing.handshake)},
        {"total", o.timing.total}}},
      {"line", log_line(o)},
  };
}

}  // namespace ostls::report
