#include "tls/dane.hpp"

#include <openssl/err.h>

#include <fmt/format.h>

#include "tls/context.hpp"

namespace ostls::tls {

Result<DaneSetup> enable_dane(SSL* ssl, const DaneParams& p) {
  if (SSL_dane_enable(ssl, p.base_domain.c_str()) <= 0) {
    return fail(Errc::Tls, Fault::Local, fmt::format("SSL_dane_enable: {}", last_error()));
  }
  // RFC 7672 §3.1.3: DANE-EE(3) matches ignore names (and OpenSSL ignores expiry for them).
  SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  for (const auto& name : p.extra_names) {
    if (name != p.base_domain && SSL_add1_host(ssl, name.c_str()) != 1) {
      return fail(Errc::Tls, Fault::Local, fmt::format("SSL_add1_host {}: {}", name, last_error()));
    }
  }
  DaneSetup setup;
  for (const auto& r : p.records) {
    const int rc = SSL_dane_tlsa_add(ssl, r.usage, r.selector, r.mtype,
                                     reinterpret_cast<const unsigned char*>(r.data.data()), r.data.size());
    if (rc > 0) {
      ++setup.added;
    } else if (rc == 0) {
      setup.rejected.push_back(r.to_string());
    } else {
      return fail(Errc::Tls, Fault::Local, fmt::format("SSL_dane_tlsa_add: {}", last_error()));
    }
  }
  ERR_clear_error();
  return setup;
}

}  // namespace ostls::tls
