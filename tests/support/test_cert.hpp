// A self-signed EC certificate made in process, and a server SSL_CTX using it, for in-process
// TLS tests (socketpair or loopback) with real OpenSSL on both ends.
#pragma once

#include <string>

#include "tls/ossl.hpp"

namespace ostls::test {

struct TestCert {
  tls::X509Ptr cert;
  tls::EvpPkeyPtr key;
};

// Self-signed, valid from now for a day, SAN DNS:<name>.
TestCert make_cert(const std::string& name);
tls::SslCtxPtr server_context(const TestCert& cert);

}  // namespace ostls::test
