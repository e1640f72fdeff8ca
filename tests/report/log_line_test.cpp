// The human line is a product surface (STYLE habit 9, docs/log-format.md): golden strings.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "report/json.hpp"
#include "report/log_line.hpp"

namespace ostls::report {
namespace {

Outcome tls_outcome() {
  Outcome o;
  o.target = "smtp://[mx1.example.org]";
  o.protocol = "smtp";
  o.host = "mx1.example.org";
  o.address = "192.0.2.1";
  o.port = 25;
  o.verdict = Verdict::Ok;
  o.protection = Protection::Encrypted;
  o.trust = Trust::Untrusted;
  TlsFacts t;
  t.version = "TLSv1.3";
  t.cipher = "TLS_AES_256_GCM_SHA384";
  t.bits = t.alg_bits = 256;
  t.group = "X25519";
  t.pfs = true;
  t.server_signature = "ECDSA (P-256)";
  t.server_digest = "SHA256";
  t.peer = CertFacts{.subject = "CN=mx1.example.org", .spki_sha256 = "cd", .cert_sha256 = "ab"};
  o.tls = t;
  return o;
}

TEST(LogLine, SpecExample) {
  EXPECT_EQ(log_line(tls_outcome()),
            "Untrusted TLS connection established to mx1.example.org[192.0.2.1]:25: TLSv1.3 with cipher "
            "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (P-256) "
            "server-digest SHA256");
}

TEST(LogLine, EcdheAndNoSignatureDigest) {
  auto o = tls_outcome();
  o.tls->version = "TLSv1.2";
  o.tls->cipher = "ECDHE-RSA-AES128-GCM-SHA256";
  o.tls->bits = o.tls->alg_bits = 128;
  o.tls->group = "P-256";
  o.tls->server_signature = "RSA (2048 bits)";
  o.tls->server_digest.reset();
  o.trust = Trust::Verified;
  EXPECT_EQ(log_line(o),
            "Verified TLS connection established to mx1.example.org[192.0.2.1]:25: TLSv1.2 with cipher "
            "ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits) key-exchange ECDHE (P-256) server-signature RSA (2048 bits)");
}

TEST(LogLine, CleartextAndNoConnection) {
  auto o = tls_outcome();
  o.tls.reset();
  o.trust.reset();
  o.protection = Protection::Cleartext;
  o.signals.starttls_offered = false;
  EXPECT_EQ(log_line(o), "Cleartext SMTP connection to mx1.example.org[192.0.2.1]:25: STARTTLS not offered");
  o.add(EventType::FallbackToCleartext, "handshake failed");
  o.signals.starttls_offered = true;
  EXPECT_EQ(log_line(o),
            "Cleartext SMTP connection to mx1.example.org[192.0.2.1]:25: TLS handshake failed, continued in cleartext");
  Outcome none;
  none.protocol = "smtp";
  none.host = "mx.example.org";
  none.port = 25;
  none.failure = Failure{.detail = "cannot connect"};
  EXPECT_EQ(log_line(none), "No SMTP connection to mx.example.org:25: cannot connect");
}

TEST(Json, SchemaKeysAndNulls) {
  auto o = tls_outcome();
  const auto j = to_json(o);
  for (const char* key : {"target", "protocol", "host", "address", "port", "policy", "verdict", "protection",
                          "auth_method", "trust", "tls", "signals", "capabilities", "events", "timing_ms", "line"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["tls"]["peer"]["spki_sha256"], "cd");
  EXPECT_EQ(j["tls"]["verify"]["ok"], false);
  EXPECT_TRUE(j["signals"]["starttls_offered"].is_null());
  EXPECT_EQ(j["trust"], "Untrusted");
  o.tls.reset();
  o.trust.reset();
  const auto c = to_json(o);
  EXPECT_TRUE(c["tls"].is_null()) << "tls is null for cleartext";
  EXPECT_TRUE(c["trust"].is_null());
}

TEST(Json, SrvAttempts) {
  auto o = tls_outcome();
  auto j = to_json(o);
  EXPECT_TRUE(j["srv"].is_null()) << "not an --srv target";
  EXPECT_TRUE(j["signals"]["srv"].is_null());
  o.signals.srv = "secure";
  o.srv = std::vector<SrvAttempt>{
      {.target = "imap1.example.net", .port = 993, .priority = 10, .weight = 5, .address = "",
       .verdict = Verdict::Defer, .protection = Protection::Cleartext, .detail = "cannot connect"},
      {.target = "example.org", .port = 993, .priority = std::nullopt, .weight = std::nullopt,
       .address = "192.0.2.1", .verdict = Verdict::Ok, .protection = Protection::Encrypted, .detail = "line"}};
  j = to_json(o);
  EXPECT_EQ(j["signals"]["srv"], "secure");
  ASSERT_EQ(j["srv"].size(), 2u);
  EXPECT_EQ(j["srv"][0]["target"], "imap1.example.net");
  EXPECT_EQ(j["srv"][0]["port"], 993);
  EXPECT_EQ(j["srv"][0]["priority"], 10);
  EXPECT_EQ(j["srv"][0]["weight"], 5);
  EXPECT_TRUE(j["srv"][0]["address"].is_null());
  EXPECT_EQ(j["srv"][0]["verdict"], "defer");
  EXPECT_TRUE(j["srv"][1]["priority"].is_null()) << "the no-SRV fallback has no priority";
  EXPECT_TRUE(j["srv"][1]["weight"].is_null());
  EXPECT_EQ(j["srv"][1]["protection"], "encrypted");
  const auto block = reason_block(o);
  EXPECT_NE(block.find("srv:        10 5 imap1.example.net:993 [] defer: cannot connect"), std::string::npos) << block;
  EXPECT_NE(block.find("srv:        (no SRV) example.org:993 [192.0.2.1] ok: line"), std::string::npos) << block;
}

}  // namespace
}  // namespace ostls::report
