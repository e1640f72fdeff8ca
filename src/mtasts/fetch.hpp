// MTA-STS policy retrieval (RFC 8461 §3.3): one HTTPS GET of
// https://mta-sts.<domain>/.well-known/mta-sts.txt with libcurl — PKIX-validated for that name,
// TLS 1.2 or later, no redirects, no proxy, at most limits::max_policy_bytes counted while
// reading (a Content-Length is not trusted alone), status 200 and media type text/plain only,
// then parse_policy(). The host's addresses come from the caller (ostls's own resolver: the
// lab's private zone works, and no lookup escapes through the system resolver).
// libcurl is loaded on the first fetch (core/dynlib.hpp); the blocking transfer runs on a small
// worker pool so that the event loop goes on meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/expected.hpp"
#include "core/outcome.hpp"
#include "mtasts/policy.hpp"
#include "net/coro.hpp"

namespace ostls::mtasts {

struct FetchRequest {
  std::string domain;                  // the policy domain, normalized (no trailing dot)
  std::vector<std::string> addresses;  // of mta-sts.<domain>; tried in order
  std::uint16_t port = 443;            // RFC 8461: 443; other values are for labs and tests
  std::string cafile, capath;          // trust anchors; both empty: libcurl's system store
  std::chrono::milliseconds timeout{10000};
};

// Why no policy came back, classified for TLS-RPT (RFC 8460 §4.3.2.2): sts-policy-fetch-error
// (unreachable, timeout, not 200, too big), sts-webpki-invalid (the policy host's certificate
// does not verify for its name) or sts-policy-invalid (not text/plain, or not a policy).
struct FetchFailure {
  ResultType type = ResultType::StsPolicyFetchError;
  std::string detail;
};

struct Fetched {
  std::string body;  // as served
  Policy policy;
};

[[nodiscard]] std::string policy_host(std::string_view domain);                   // mta-sts.<domain>
[[nodiscard]] std::string policy_url(std::string_view domain, std::uint16_t port);  // https://…/.well-known/mta-sts.txt

// RFC 8461 §3.3: the policy's media type is text/plain; parameters (charset) are allowed.
[[nodiscard]] bool is_text_plain(std::string_view content_type);

// Blocking: the whole transfer on the calling thread.
[[nodiscard]] expected<Fetched, FetchFailure> fetch_blocking(const FetchRequest& request);

// The same on a worker thread; resumes on the caller's executor.
[[nodiscard]] net::awaitable<expected<Fetched, FetchFailure>> fetch(FetchRequest request);

}  // namespace ostls::mtasts
