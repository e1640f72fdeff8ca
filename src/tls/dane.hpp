// DANE verification through OpenSSL's own support (RFC 7671/7672): SSL_dane_enable,
// SSL_dane_tlsa_add, SSL_get0_dane_authority. No digest is compared by ostls itself.
#pragma once

#include <span>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "core/error.hpp"
#include "dns/records.hpp"

namespace ostls::tls {

struct DaneParams {
  std::string base_domain;                 // TLSA base domain: SNI and first reference identifier
  std::vector<std::string> extra_names;    // more reference identifiers for DANE-TA (RFC 7672 §3.2.2)
  std::span<const dns::Tlsa> records;      // usable records (policy filtered them already)
};

struct DaneSetup {
  int added = 0;                           // records OpenSSL accepted as usable
  std::vector<std::string> rejected;       // records OpenSSL found unusable
};

// Precondition: the context was made with ClientParams::dane = true.
// SSL_dane_tlsa_add returns >0 (usable), 0 (unusable), <0 (internal error): mapped here once.
[[nodiscard]] Result<DaneSetup> enable_dane(SSL* ssl, const DaneParams& params);

}  // namespace ostls::tls
