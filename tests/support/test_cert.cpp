#include "support/test_cert.hpp"

#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

namespace ostls::test {

TestCert make_cert(const std::string& name) {
  TestCert c;
  c.key.reset(EVP_EC_gen("P-256"));
  if (!c.key) throw std::runtime_error("EVP_EC_gen failed");
  c.cert.reset(X509_new());
  X509* x = c.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, c.key.get());
  X509_NAME* subject = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, subject);
  const std::string san = "DNS:" + name;
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  if (X509_sign(x, c.key.get(), EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
  return c;
}

tls::SslCtxPtr server_context(const TestCert& cert) {
  tls::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx || SSL_CTX_use_certificate(ctx.get(), cert.cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), cert.key.get()) != 1) {
    throw std::runtime_error("server context");
  }
  return ctx;
}

}  // namespace ostls::test
