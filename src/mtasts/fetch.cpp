#include "mtasts/fetch.hpp"

// The type-checking macros of curl.h would wrap the names used through function pointers here.
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include <openssl/crypto.h>

#include <asio/co_spawn.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "core/dynlib.hpp"

namespace ostls::mtasts {
namespace {

// The libcurl functions a fetch calls, resolved once from libcurl.so.4.
struct Libcurl {
  decltype(&curl_global_init) global_init = nullptr;
  decltype(&curl_easy_init) easy_init = nullptr;
  decltype(&curl_easy_setopt) setopt = nullptr;
  decltype(&curl_easy_perform) perform = nullptr;
  decltype(&curl_easy_getinfo) getinfo = nullptr;
  decltype(&curl_easy_cleanup) cleanup = nullptr;
  decltype(&curl_easy_strerror) strerror = nullptr;
  decltype(&curl_slist_append) slist_append = nullptr;
  decltype(&curl_slist_free_all) slist_free_all = nullptr;
};

// nullptr (and `why`) when libcurl cannot be loaded. Thread-safe: the first caller loads it and
// runs curl_global_init() (not thread-safe itself) before anyone else can use it.
const Libcurl* libcurl(std::string& why) {
  static std::string load_error;
  static const Libcurl* loaded = []() -> const Libcurl* {
    void* lib = dynlib::open("libcurl.so.4", load_error);
    if (lib == nullptr) return nullptr;
    using dynlib::resolve;
    static Libcurl c;
    const bool ok = resolve(lib, "curl_global_init", c.global_init) && resolve(lib, "curl_easy_init", c.easy_init) &&
                    resolve(lib, "curl_easy_setopt", c.setopt) && resolve(lib, "curl_easy_perform", c.perform) &&
                    resolve(lib, "curl_easy_getinfo", c.getinfo) && resolve(lib, "curl_easy_cleanup", c.cleanup) &&
                    resolve(lib, "curl_easy_strerror", c.strerror) &&
                    resolve(lib, "curl_slist_append", c.slist_append) &&
                    resolve(lib, "curl_slist_free_all", c.slist_free_all);
    if (!ok) {
      load_error = "libcurl.so.4 lacks a function ostls needs";
      return nullptr;
    }
    if (c.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      load_error = "curl_global_init failed";
      return nullptr;
    }
    return &c;
  }();
  if (loaded == nullptr) why = load_error;
  return loaded;
}

FetchFailure failure(ResultType type, std::string detail) { return FetchFailure{type, std::move(detail)}; }

// The body as it arrives, cut off (and the transfer aborted) past the limit.
struct Sink {
  std::string body;
  bool too_big = false;
};

std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
  auto& sink = *static_cast<Sink*>(user);
  const std::size_t n = size * count;
  if (sink.body.size() + n > limits::max_policy_bytes) {
    sink.too_big = true;
    return 0;  // makes curl_easy_perform() fail with CURLE_WRITE_ERROR
  }
  sink.body.append(data, n);
  return n;
}

// CURLOPT_RESOLVE: "host:port:addr[,addr…]", IPv6 addresses in brackets.
std::string resolve_entry(const FetchRequest& r) {
  std::string entry = fmt::format("{}:{}:", policy_host(r.domain), r.port);
  for (std::size_t i = 0; i < r.addresses.size(); ++i) {
    const auto& a = r.addresses[i];
    entry += (i ? "," : "") + (a.find(':') != std::string::npos ? "[" + a + "]" : a);
  }
  return entry;
}

asio::thread_pool& workers() {
  static asio::thread_pool pool(2);
  return pool;
}

}  // namespace

std::string policy_host(std::string_view domain) { return fmt::format("mta-sts.{}", domain); }

std::string policy_url(std::string_view domain, std::uint16_t port) {
  if (port == 443) return fmt::format("https://{}/.well-known/mta-sts.txt", policy_host(domain));
  return fmt::format("https://{}:{}/.well-known/mta-sts.txt", policy_host(domain), port);
}

bool is_text_plain(std::string_view content_type) {
  auto type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  constexpr std::string_view want = "text/plain";
  return type.size() == want.size() && std::equal(type.begin(), type.end(), want.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

expected<Fetched, FetchFailure> fetch_blocking(const FetchRequest& r) {
  const auto url = policy_url(r.domain, r.port);
  if (r.addresses.empty()) {
    return unexpected(failure(ResultType::StsPolicyFetchError, fmt::format("{} has no addresses", policy_host(r.domain))));
  }
  std::string why;
  const Libcurl* curl = libcurl(why);
  if (curl == nullptr) {
    return unexpected(failure(ResultType::StsPolicyFetchError, fmt::format("cannot load libcurl: {}", why)));
  }
  std::unique_ptr<CURL, decltype(curl->cleanup)> h(curl->easy_init(), curl->cleanup);
  if (!h) return unexpected(failure(ResultType::StsPolicyFetchError, "curl_easy_init failed"));
  const std::string entry = resolve_entry(r);
  std::unique_ptr<curl_slist, decltype(curl->slist_free_all)> resolve(curl->slist_append(nullptr, entry.c_str()),
                                                                      curl->slist_free_all);
  if (!resolve) return unexpected(failure(ResultType::StsPolicyFetchError, "out of memory"));

  Sink sink;
  char errbuf[CURL_ERROR_SIZE] = {};
  // Every option is checked: a libcurl that silently ignored one (an older runtime) could
  // follow a redirect or skip verification.
  CURLcode set_rc = CURLE_OK;
  int failed_option = 0;
  const auto set = [&](CURLoption option, auto value) {
    if (set_rc != CURLE_OK) return;
    set_rc = curl->setopt(h.get(), option, value);
    failed_option = static_cast<int>(option);
  };
  set(CURLOPT_URL, url.c_str());
  set(CURLOPT_RESOLVE, resolve.get());
  set(CURLOPT_PROTOCOLS_STR, "https");
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_PROXY, "");  // no proxy, whatever *_proxy variables say
  set(CURLOPT_SSL_VERIFYPEER, 1L);
  set(CURLOPT_SSL_VERIFYHOST, 2L);
  set(CURLOPT_SSLVERSION, long{CURL_SSLVERSION_TLSv1_2});
  if (!r.cafile.empty() || !r.capath.empty()) {
    set(CURLOPT_CAINFO, r.cafile.empty() ? nullptr : r.cafile.c_str());
    set(CURLOPT_CAPATH, r.capath.empty() ? nullptr : r.capath.c_str());
  }
  set(CURLOPT_MAXFILESIZE_LARGE, curl_off_t{limits::max_policy_bytes});
  set(CURLOPT_WRITEFUNCTION, &on_data);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&sink));
  set(CURLOPT_ERRORBUFFER, static_cast<char*>(errbuf));
  set(CURLOPT_TIMEOUT_MS, std::max<long>(1, static_cast<long>(r.timeout.count())));
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_USERAGENT, "ostls/0.1.0");
  if (set_rc != CURLE_OK) {
    return unexpected(failure(ResultType::StsPolicyFetchError,
                              fmt::format("libcurl refused option {}: {}", failed_option, curl->strerror(set_rc))));
  }

  const CURLcode rc = curl->perform(h.get());
  const auto said = [&] { return errbuf[0] != '\0' ? std::string(errbuf) : std::string(curl->strerror(rc)); };
  if (rc == CURLE_PEER_FAILED_VERIFICATION) {
    return unexpected(failure(ResultType::StsWebpkiInvalid, fmt::format("{}: {}", url, said())));
  }
  if (sink.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
    return unexpected(failure(ResultType::StsPolicyFetchError,
                              fmt::format("{}: the policy is larger than {} bytes (RFC 8461 §3.3)", url,
                                          limits::max_policy_bytes)));
  }
  if (rc != CURLE_OK) return unexpected(failure(ResultType::StsPolicyFetchError, fmt::format("{}: {}", url, said())));
  long status = 0;
  (void)curl->getinfo(h.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    const bool redirect = status >= 300 && status < 400;
    return unexpected(failure(ResultType::StsPolicyFetchError,
                              fmt::format("{}: HTTP status {}{}", url, status,
                                          redirect ? " (redirects are not followed, RFC 8461 §3.3)" : "")));
  }
  const char* type = nullptr;
  (void)curl->getinfo(h.get(), CURLINFO_CONTENT_TYPE, &type);
  if (type == nullptr || !is_text_plain(type)) {
    return unexpected(failure(ResultType::StsPolicyInvalid,
                              fmt::format("{}: Content-Type {}, not text/plain (RFC 8461 §3.3)", url,
                                          type ? fmt::format("\"{}\"", type) : std::string("missing"))));
  }
  auto policy = parse_policy(sink.body);
  if (!policy) return unexpected(failure(ResultType::StsPolicyInvalid, fmt::format("{}: {}", url, policy.error().detail)));
  return Fetched{std::move(sink.body), std::move(*policy)};
}

namespace {

asio::awaitable<expected<Fetched, FetchFailure>> run_blocking(FetchRequest request) {
  auto result = fetch_blocking(request);
  // OpenSSL keeps per-thread state (error queue, DRBGs) for this worker thread; release it now
  // rather than rely on the pool's threads ending before the process does.
  OPENSSL_thread_stop();
  co_return result;
}

}  // namespace

net::awaitable<expected<Fetched, FetchFailure>> fetch(FetchRequest request) {
  // Named, not temporaries inside co_await: g++ 12 destroys such temporaries twice.
  auto work = run_blocking(std::move(request));
  auto done = asio::co_spawn(workers().get_executor(), std::move(work), asio::use_awaitable);
  co_return co_await std::move(done);
}

}  // namespace ostls::mtasts
