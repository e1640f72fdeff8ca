#include "tls/handshake.hpp"

#include <arpa/inet.h>

#include <array>
#include <ctime>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "tls/ossl.hpp"

namespace ostls::tls {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 0xf];
  }
  return out;
}

std::string sha256_hex(const unsigned char* data, std::size_t len) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(data, len, md, &md_len, EVP_sha256(), nullptr);
  return hex(md, md_len);
}

std::string name_text(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const auto len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string{};
}

std::string iso_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string ec_group(const EVP_PKEY* key) {
  char group[80] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) return "EC";
  const int nid = OBJ_sn2nid(group);
  const char* nist = nid != NID_undef ? EC_curve_nid2nist(nid) : nullptr;
  return nist ? nist : group;
}

// Postfix-style description of a public key: "RSA (2048 bits)", "ECDSA (P-256)", "ED25519".
std::string key_text(const EVP_PKEY* key, bool pss = false) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      return fmt::format("{} ({} bits)", pss ? "RSA-PSS" : "RSA", EVP_PKEY_get_bits(key));
    case EVP_PKEY_EC: return fmt::format("ECDSA ({})", ec_group(key));
    case EVP_PKEY_ED25519: return "ED25519";
    case EVP_PKEY_ED448: return "ED448";
    case EVP_PKEY_DSA: return fmt::format("DSA ({} bits)", EVP_PKEY_get_bits(key));
    default: return OBJ_nid2sn(EVP_PKEY_get_base_id(key));
  }
}

std::optional<std::string> kex_group(SSL* ssl) {
  EVP_PKEY* raw = nullptr;
  if (SSL_get_peer_tmp_key(ssl, &raw) != 1 || raw == nullptr) return std::nullopt;
  EvpPkeyPtr key(raw);
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_X25519: return "X25519";
    case EVP_PKEY_X448: return "X448";
    case EVP_PKEY_EC: return ec_group(key.get());
    case EVP_PKEY_DH: return fmt::format("ffdhe{}", EVP_PKEY_get_bits(key.get()));
    default: return OBJ_nid2sn(EVP_PKEY_get_base_id(key.get()));
  }
}

bool forward_secret(SSL* ssl) {
  if (SSL_version(ssl) >= TLS1_3_VERSION) return true;  // every TLS 1.3 (EC)DHE key exchange
  switch (SSL_CIPHER_get_kx_nid(SSL_get_current_cipher(ssl))) {
    case NID_kx_ecdhe:
    case NID_kx_dhe:
    case NID_kx_ecdhe_psk:
    case NID_kx_dhe_psk:
      return true;
    default:
      return false;
  }
}

bool is_ip(const std::string& id) {
  unsigned char buf[16];
  return inet_pton(AF_INET, id.c_str(), buf) == 1 || inet_pton(AF_INET6, id.c_str(), buf) == 1;
}

// RFC 6125 matching through OpenSSL: no partial wildcards; ".domain" = any subdomain.
bool name_matches(X509* cert, std::span<const std::string> ids, std::string& error) {
  if (ids.empty()) {
    error = "no reference identifier to check";
    return false;
  }
  for (const auto& id : ids) {
    const int r = is_ip(id) ? X509_check_ip_asc(cert, id.c_str(), 0)
                            : X509_check_host(cert, id.c_str(), id.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr);
    if (r == 1) return true;
  }
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "" : ", ") + id;
  error = fmt::format("certificate name does not match {}", list);
  return false;
}

}  // namespace

std::string cert_sha256(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  return hex(md, len);
}

std::string spki_sha256(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) return {};
  auto out = sha256_hex(der, static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

DaneFacts dane_facts(SSL* ssl) {
  DaneFacts d;
  uint8_t usage = 0, selector = 0, mtype = 0;
  const unsigned char* data = nullptr;
  size_t dlen = 0;
  d.depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, &data, &dlen);
  d.matched = SSL_get_verify_result(ssl) == X509_V_OK && d.depth >= 0;
  if (d.depth >= 0) {
    d.usage = usage;
    d.record = fmt::format("{} {} {} {}", usage, selector, mtype, hex(data, dlen));
  }
  return d;
}

TlsFacts handshake_facts(SSL* ssl, std::span<const std::string> reference_ids, bool dane_enabled) {
  TlsFacts f;
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  f.version = SSL_get_version(ssl);
  f.cipher = SSL_CIPHER_get_name(cipher);
  f.bits = SSL_CIPHER_get_bits(cipher, &f.alg_bits);
  f.group = kex_group(ssl);
  f.pfs = forward_secret(ssl);
  X509Ptr cert(SSL_get1_peer_certificate(ssl));
  if (!cert) {
    f.verify.error = "no peer certificate";
    return f;
  }
  CertFacts c;
  c.subject = name_text(X509_get_subject_name(cert.get()));
  c.issuer = name_text(X509_get_issuer_name(cert.get()));
  c.not_before = iso_time(X509_get0_notBefore(cert.get()));
  c.not_after = iso_time(X509_get0_notAfter(cert.get()));
  c.cert_sha256 = cert_sha256(cert.get());
  c.spki_sha256 = spki_sha256(cert.get());
  if (const EVP_PKEY* key = X509_get0_pubkey(cert.get())) {
    c.key = key_text(key);
    int sig_type = NID_undef;
    const bool pss = SSL_get_peer_signature_type_nid(ssl, &sig_type) == 1 && sig_type == EVP_PKEY_RSA_PSS;
    f.server_signature = key_text(key, pss);
  }
  int digest = NID_undef;
  if (SSL_get_peer_signature_nid(ssl, &digest) == 1 && digest != NID_undef) f.server_digest = OBJ_nid2sn(digest);
  f.peer = std::move(c);

  const long result = SSL_get_verify_result(ssl);
  if (dane_enabled) f.dane = dane_facts(ssl);
  f.verify.chain_ok = result == X509_V_OK;
  std::string chain_error, name_error;
  if (!f.verify.chain_ok) chain_error = X509_verify_cert_error_string(result);
  f.verify.name_ok = name_matches(cert.get(), reference_ids, name_error);
  f.verify.error = chain_error.empty() ? name_error : (name_error.empty() ? chain_error : chain_error + "; " + name_error);
  return f;
}

}  // namespace ostls::tls
