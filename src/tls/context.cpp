#include "tls/context.hpp"

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "tls/resume.hpp"

namespace ostls::tls {
namespace {

int openssl_version(policy::TlsVersion v) {
  switch (v) {
    case policy::TlsVersion::Tls1_0: return TLS1_VERSION;
    case policy::TlsVersion::Tls1_1: return TLS1_1_VERSION;
    case policy::TlsVersion::Tls1_2: return TLS1_2_VERSION;
    case policy::TlsVersion::Tls1_3: return TLS1_3_VERSION;
  }
  return TLS1_3_VERSION;
}

// R6: authenticated levels negotiate only AEAD ciphers with (EC)DHE key exchange on TLS 1.2
// (every TLS 1.3 suite already is). R5: ECDHE before DHE, AES-GCM and ChaCha20 only.
constexpr const char* authenticated_ciphers =
    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!PSK:!SRP";

// Unauthenticated levels: liberal, so legacy peers get encryption instead of cleartext
// (OpenSSL 3.0 needs security level 0 for TLS 1.0/1.1 and SHA-1 signatures).
Result<const char*> grade_ciphers(const std::optional<std::string>& grade) {
  if (!grade || *grade == "medium") return "DEFAULT:@SECLEVEL=0";
  if (*grade == "high") return "HIGH:!aNULL:@SECLEVEL=0";
  if (*grade == "low" || *grade == "export") return "ALL:!eNULL:@SECLEVEL=0";
  if (*grade == "null") return "eNULL:@SECLEVEL=0";
  return fail(Errc::Usage, Fault::Config,
              fmt::format("unknown cipher grade \"{}\" (high, medium, low, export, null)", *grade));
}

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return s.find(':') != std::string::npos || inet_pton(AF_INET, s.c_str(), buf) == 1;
}

}  // namespace

std::string last_error() {
  std::string out;
  while (const auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

Result<SslCtxPtr> client_context(const ClientParams& p) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return fail(Errc::Tls, Fault::Local, last_error());
  auto min = p.authenticated ? policy::TlsVersion::Tls1_2 : policy::TlsVersion::Tls1_0;
  auto max = policy::TlsVersion::Tls1_3;
  if (p.protocols) {
    min = std::max(min, p.protocols->min);
    max = p.protocols->max;
    if (max < min) {
      return fail(Errc::Usage, Fault::Config, "protocols= leaves no TLS version allowed at an authenticated level");
    }
  }
  SSL_CTX_set_min_proto_version(ctx.get(), openssl_version(min));
  SSL_CTX_set_max_proto_version(ctx.get(), openssl_version(max));
  const char* ciphers = authenticated_ciphers;
  if (!p.authenticated) {
    auto g = grade_ciphers(p.cipher_grade);
    if (!g) return unexpected<Error>(g.error());
    ciphers = *g;
    // Old servers without the renegotiation-indication extension still deserve encryption.
    SSL_CTX_set_options(ctx.get(), SSL_OP_LEGACY_SERVER_CONNECT);
  }
  if (SSL_CTX_set_cipher_list(ctx.get(), ciphers) != 1) {
    return fail(Errc::Usage, Fault::Config, fmt::format("cipher list rejected: {}", last_error()));
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  enable_client_resumption(ctx.get());  // only SSLs armed with a SessionCache resume (tls/resume.hpp)
  // The chain is always verified and the result recorded; enforcement is policy's decision,
  // so the handshake itself never aborts on a verification error.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (!p.cafile.empty() || !p.capath.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), p.cafile.empty() ? nullptr : p.cafile.c_str(),
                                      p.capath.empty() ? nullptr : p.capath.c_str()) != 1) {
      return fail(Errc::Usage, Fault::Config,
                  fmt::format("cannot load trust anchors from {}{}: {}", p.cafile, p.capath, last_error()));
    }
  } else {
    // Hashed directory: issuers are read on demand, not the whole bundle at start-up.
    SSL_CTX_load_verify_dir(ctx.get(), X509_get_default_cert_dir());
    ERR_clear_error();
  }
  if (p.dane && SSL_CTX_dane_enable(ctx.get()) <= 0) {
    return fail(Errc::Tls, Fault::Local, fmt::format("SSL_CTX_dane_enable: {}", last_error()));
  }
  return ctx;
}

Result<SslCtxPtr> server_context(const ServerParams& p) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return fail(Errc::Tls, Fault::Local, last_error());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (SSL_CTX_set_cipher_list(ctx.get(), authenticated_ciphers) != 1) {
    return fail(Errc::Tls, Fault::Local, fmt::format("cipher list rejected: {}", last_error()));
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), p.cert_file.c_str()) != 1) {
    return fail(Errc::Usage, Fault::Config, fmt::format("cannot load certificate chain {}: {}", p.cert_file, last_error()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), p.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail(Errc::Usage, Fault::Config, fmt::format("cannot load private key {}: {}", p.key_file, last_error()));
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return fail(Errc::Usage, Fault::Config,
                fmt::format("private key {} does not match certificate {}", p.key_file, p.cert_file));
  }
  return ctx;
}

Result<SSL_CTX*> ClientContextCache::get(const ClientParams& params) {
  const std::lock_guard lock(mutex_);
  for (const auto& [p, ctx] : contexts_) {
    if (p == params) return ctx.get();
  }
  auto ctx = client_context(params);
  if (!ctx) return unexpected<Error>(ctx.error());
  contexts_.emplace_back(params, std::move(*ctx));
  return contexts_.back().second.get();
}

std::size_t ClientContextCache::size() const {
  const std::lock_guard lock(mutex_);
  return contexts_.size();
}

Result<SslPtr> client_session(SSL_CTX* ctx, const SessionParams& p) {
  SslPtr ssl(SSL_new(ctx));
  if (!ssl) return fail(Errc::Tls, Fault::Local, last_error());
  // RFC 6066 §3: no SNI for IP literals.
  if (!p.sni.empty() && !is_ip_literal(p.sni) && SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                                      const_cast<char*>(p.sni.c_str())) != 1) {
    return fail(Errc::Usage, Fault::Config, fmt::format("invalid server name \"{}\"", p.sni));
  }
  return ssl;
}

}  // namespace ostls::tls
