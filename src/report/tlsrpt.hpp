// TLS-RPT aggregate reports (RFC 8460 §4), pure: what one probe outcome of an SMTP destination
// is for TLS-RPT (a success, a failure with its §4.3 result type, or nothing), and the §4.4 JSON
// report of one policy domain and one UTC day built from the recorded outcomes, with its §5.3
// file name. Records in, JSON out: no store, no clock, no I/O here (apps/cli/report_cmd.cpp reads
// the store; probe/probe.cpp records).
// Does not: deliver reports (§5: mail or HTTPS POST), sign them (DKIM), or look up where they go
// (report/tlsrpt_record.hpp parses the `_smtp._tls` TXT record).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.hpp"
#include "core/outcome.hpp"
#include "store/store.hpp"

namespace ostls::report {

// RFC 8460 §4.4 policy-type values.
inline constexpr std::string_view policy_tlsa = "tlsa";
inline constexpr std::string_view policy_sts = "sts";
inline constexpr std::string_view policy_none = "no-policy-found";

struct SessionParams {
  std::string policy_domain;    // the mail domain of the target (for a [host] target: the host)
  bool destination = false;     // the outcome is the destination's own (no MX host was chosen)
  store::Seconds at = 0;
  std::string sending_address;  // our source address toward the receiving IP, "" when unknown
};

// The record one host outcome of an SMTP destination leaves for TLS-RPT; nullopt when it says
// nothing about TLS (effective level `none`: TLS was never attempted).
// - success: the policy was met over TLS;
// - `ok` in cleartext (an opportunistic level): a failure, `starttls-not-supported` (not offered
//   or refused) or `validation-failure` (the handshake failed and R2 fell back to cleartext);
// - `fail`/`defer`: the failure's result type as the probe classified it, null where none
//   applies (connection refused, SERVFAIL, …: not a TLS session, left out of reports).
// - an MTA-STS policy in mode testing that the session would not have met (MX host not
//   listed, no TLS, certificate not valid for the MX host): a failure with that result type,
//   although the session went on;
// - a domain that announces MTA-STS (one valid TXT record) whose policy could not be fetched or
//   parsed, with none cached: a failure `sts-policy-fetch-error` / `sts-policy-invalid` /
//   `sts-webpki-invalid` under policy type `sts`.
// The policy type is `tlsa` when a DNSSEC-validated TLSA RRset decided the level (usable or
// not, R8), with its records as the policy strings; `sts` when an MTA-STS policy in mode enforce
// or testing was in force, with its lines as the policy strings; otherwise `no-policy-found`.
[[nodiscard]] std::optional<store::OutcomeRecord> session_record(const Outcome& o, const SessionParams& p);

struct ReportParams {
  std::string organization;   // organization-name
  std::string contact;        // contact-info
  std::string report_id;      // report-id
  std::string policy_domain;  // the domain reported on
  store::Seconds day = 0;     // 00:00:00 UTC of the reported day
};

// The RFC 8460 §4.4 report of `records` (the outcomes of `p.policy_domain` recorded that day).
// One entry of policies[] per applied policy: `tlsa` per MX host and TLSA RRset (mx-host: that
// host), `sts` per policy text (mx-host: its `mx:` patterns), `no-policy-found` once (no
// mx-host: there is no policy). failure-details[] group the failures of a policy by result type,
// sending and receiving address, receiving host and failure-reason-code. Records without a
// result type that did not succeed are not TLS sessions and are not counted. Keys in the RFC's
// order.
[[nodiscard]] nlohmann::ordered_json aggregate(const ReportParams& p, const std::vector<store::OutcomeRecord>& records);

// The number of TLS sessions (counted successes and failures) among `records`.
[[nodiscard]] std::size_t session_count(const std::vector<store::OutcomeRecord>& records);

// "2026-11-23" (UTC day) → its first second; strict YYYY-MM-DD with a real calendar date.
[[nodiscard]] Result<store::Seconds> parse_day(std::string_view text);

// RFC 8460 §5.3: sender "!" policy-domain "!" begin-timestamp "!" end-timestamp "." extension,
// e.g. "mail.sender.example!example.com!1470009600!1470095999.json.gz".
struct FilenameParams {
  std::string sender;         // the domain of the contact-info address
  std::string policy_domain;
  store::Seconds day = 0;
  bool gzip = false;
};
[[nodiscard]] std::string report_filename(const FilenameParams& p);

}  // namespace ostls::report
