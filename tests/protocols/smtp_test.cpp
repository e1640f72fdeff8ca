// SMTP STARTTLS client (RFC 3207 §4–§4.2, RFC 5321 §3.1–§3.2, RFC 2033 §4.1, RFC 8314 §3):
// golden dialogues from tests/data/transcripts/smtp, every one of them run, plus tables for the
// masked-keyword heuristic and hostile replies.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "protocols/smtp.hpp"

namespace ostls::smtp {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> key_values(std::string_view text) {
  // "a=1 b=x|y" (values may contain spaces only inside caps lists, which we split on ' ' + key)
  std::map<std::string, std::string> out;
  std::string key, value;
  std::istringstream in{std::string(text)};
  std::string word;
  while (in >> word) {
    const auto eq = word.find('=');
    if (eq != std::string::npos) {
      if (!key.empty()) out[key] = value;
      key = word.substr(0, eq);
      value = word.substr(eq + 1);
    } else {
      value += " " + word;
    }
  }
  if (!key.empty()) out[key] = value;
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "|") + s;
  return out;
}

std::string describe(const proto::Step& s) {
  if (auto* x = std::get_if<proto::Send>(&s)) return "Send " + x->bytes;
  if (std::holds_alternative<proto::ReadLine>(s)) return "ReadLine";
  if (std::holds_alternative<proto::StartTls>(s)) return "StartTls";
  if (auto* x = std::get_if<proto::Close>(&s)) return "Close " + x->bytes;
  return "Fail " + std::get<proto::Fail>(s).error.detail;
}

void run_transcript(const fs::path& file) {
  std::ifstream in(file);
  ASSERT_TRUE(in) << file;
  ClientParams params{.helo = "client.test"};
  std::optional<Client> client;
  proto::Step step = proto::ReadLine{};
  std::string line;
  int no = 0;
  bool ended = false;
  while (std::getline(in, line)) {
    ++no;
    SCOPED_TRACE(file.filename().string() + ":" + std::to_string(no) + ": " + line);
    if (line.empty() || line[0] == '#') continue;
    if (line.starts_with("params:")) {
      auto kv = key_values(line.substr(7));
      params.upgrade = kv["upgrade"] == "never"    ? proto::Upgrade::Never
                       : kv["upgrade"] == "always" ? proto::Upgrade::Always
                                                   : proto::Upgrade::IfOffered;
      params.lmtp = kv["lmtp"] == "1";
      params.implicit_tls = kv["implicit"] == "1";
      params.helo_fallback = kv.count("helo_fallback") == 0 || kv["helo_fallback"] == "1";
      client.emplace(params);
      step = client->start();
      continue;
    }
    ASSERT_TRUE(client) << "params: line must come first";
    if (line.starts_with("S: ")) {
      ASSERT_TRUE(std::holds_alternative<proto::ReadLine>(step)) << "client did not expect a line: " << describe(step);
      step = client->on_line(line.substr(3));
      if (std::holds_alternative<proto::Send>(step) || std::holds_alternative<proto::Close>(step)) continue;
      continue;
    }
    if (line.starts_with("C: ")) {
      const auto* send = std::get_if<proto::Send>(&step);
      const auto* close = std::get_if<proto::Close>(&step);
      ASSERT_TRUE(send || close) << "expected the client to send, got " << describe(step);
      EXPECT_EQ(send ? send->bytes : close->bytes, line.substr(3) + "\r\n");
      if (send) step = proto::ReadLine{};
      continue;
    }
    if (line == "! starttls") {
      ASSERT_TRUE(std::holds_alternative<proto::StartTls>(step)) << describe(step);
      step = client->on_tls_established();
      continue;
    }
    if (line == "! tls-first") {
      step = client->on_tls_established();
      continue;
    }
    if (line == "= close") {
      EXPECT_TRUE(std::holds_alternative<proto::Close>(step)) << describe(step);
      ended = true;
      continue;
    }
    if (line.starts_with("= fail ")) {
      const auto* f = std::get_if<proto::Fail>(&step);
      ASSERT_TRUE(f) << describe(step);
      EXPECT_EQ(name(f->error.code), line.substr(7));
      EXPECT_EQ(f->error.fault, Fault::Peer);
      ended = true;
      continue;
    }
    if (line.starts_with("facts:")) {
      const auto& f = client->facts();
      for (const auto& [k, v] : key_values(line.substr(6))) {
        SCOPED_TRACE(k);
        if (k == "starttls_offered") EXPECT_EQ(f.starttls_offered, v == "1");
        else if (k == "tls") EXPECT_EQ(f.tls_established, v == "1");
        else if (k == "helo_fallback") EXPECT_EQ(f.helo_fallback, v == "1");
        else if (k == "masked") EXPECT_EQ(f.masked_keyword.value_or(""), v);
        else if (k == "caps_plain") EXPECT_EQ(joined(f.caps_plain), v);
        else if (k == "caps_tls") EXPECT_EQ(joined(f.caps_tls), v);
        else if (k == "starttls_code") EXPECT_EQ(f.starttls_reply ? std::to_string(f.starttls_reply->code) : "", v);
        else ADD_FAILURE() << "unknown fact " << k;
      }
      continue;
    }
    FAIL() << "unknown transcript line";
  }
  EXPECT_TRUE(ended) << file << " has no '= close' or '= fail' line";
}

TEST(SmtpTranscripts, EveryGoldenDialogue) {
  const fs::path dir = fs::path(OSTLS_TEST_DATA) / "transcripts" / "smtp";
  int count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".txt") continue;
    SCOPED_TRACE(entry.path().filename().string());
    run_transcript(entry.path());
    ++count;
  }
  EXPECT_GE(count, 12);
}

struct MaskRow {
  std::string_view keyword;
  bool masked;
};
constexpr MaskRow mask_rows[] = {
    {"XXXXXXXA", true},  {"XXXXXXXX", true},  {"STARTTLZ", true},  {"STARTXXS", true},
    {"STARTTLS", false}, {"8BITMIME", false}, {"PIPELINING", false}, {"CHUNKING", false},
    {"XXXX", false},     {"SMTPUTF8", false}, {"", false},
};

TEST(Smtp, LooksMasked) {
  for (const auto& row : mask_rows) {
    EXPECT_EQ(looks_masked(row.keyword), row.masked) << row.keyword;
  }
}

TEST(Smtp, PreTlsCapabilitiesAreNotReused) {
  // R10: after TLS, only the post-TLS EHLO reply counts, even when it is shorter.
  Client c({.helo = "h"});
  (void)c.start();
  (void)c.on_line("220 x");
  (void)c.on_line("250-x");
  (void)c.on_line("250-AUTH PLAIN");
  ASSERT_TRUE(std::holds_alternative<proto::Send>(c.on_line("250 STARTTLS")));
  ASSERT_TRUE(std::holds_alternative<proto::StartTls>(c.on_line("220 go")));
  (void)c.on_tls_established();
  ASSERT_TRUE(std::holds_alternative<proto::Close>(c.on_line("250 x")));
  EXPECT_TRUE(c.facts().caps_tls.empty());
  EXPECT_EQ(c.facts().caps_plain.size(), 2u);
}

TEST(Smtp, FailsClosedAfterAFailure) {
  // After a malformed reply nothing the peer says is acted on, not even a STARTTLS offer.
  Client c({.helo = "h"});
  (void)c.start();
  ASSERT_TRUE(std::holds_alternative<proto::Fail>(c.on_line("garbage")));
  EXPECT_TRUE(std::holds_alternative<proto::Fail>(c.on_line("220 x")));
  EXPECT_TRUE(std::holds_alternative<proto::Fail>(c.on_line("250 STARTTLS")));
}

TEST(Smtp, ReplyAfterEndIsAnError) {
  Client c({.helo = "h", .upgrade = proto::Upgrade::Never});
  (void)c.start();
  (void)c.on_line("220 x");
  ASSERT_TRUE(std::holds_alternative<proto::Close>(c.on_line("250 x")));
  EXPECT_TRUE(std::holds_alternative<proto::Fail>(c.on_line("250 unsolicited")));
}

}  // namespace
}  // namespace ostls::smtp
