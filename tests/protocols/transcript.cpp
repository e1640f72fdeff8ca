#include "protocols/transcript.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "protocols/client.hpp"

namespace ostls::test {
namespace {

// "a=1 b=x y|z": a value runs until the next key=.
std::map<std::string, std::string> key_values(std::string_view text) {
  std::map<std::string, std::string> out;
  std::string key, value, word;
  std::istringstream in{std::string(text)};
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
  if (std::holds_alternative<proto::ReadBytes>(s)) return "ReadBytes";
  if (std::holds_alternative<proto::StartTls>(s)) return "StartTls";
  if (auto* x = std::get_if<proto::Close>(&s)) return "Close " + x->bytes;
  return "Fail " + std::get<proto::Fail>(s).error.detail;
}

void check_facts(const proto::Facts& f, std::string_view text) {
  for (const auto& [k, v] : key_values(text)) {
    SCOPED_TRACE(k);
    if (k == "starttls_offered") {
      EXPECT_EQ(f.starttls_offered ? (*f.starttls_offered ? "1" : "0") : "null", v);
    } else if (k == "tls") {
      EXPECT_EQ(f.tls_established, v == "1");
    } else if (k == "caps_plain") {
      EXPECT_EQ(joined(f.caps_plain), v);
    } else if (k == "caps_tls") {
      EXPECT_EQ(joined(f.caps_tls), v);
    } else if (k == "refusal") {
      EXPECT_EQ(f.refusal.value_or("").substr(0, v.size()), v);
    } else if (k == "after_tls") {
      EXPECT_EQ(f.offered_after_tls, v == "1");
    } else if (k == "requiretls") {
      EXPECT_EQ(f.requiretls, v == "1");
    } else if (k == "events") {
      std::vector<std::string> got;
      for (const auto& e : f.events) got.emplace_back(name(e.type));
      EXPECT_EQ(joined(got), v);
    } else {
      ADD_FAILURE() << "unknown fact " << k;
    }
  }
}

}  // namespace

void run_transcript(proto::Family family, const std::filesystem::path& file) {
  std::ifstream in(file);
  ASSERT_TRUE(in) << file;
  proto::ClientOptions options{.helo = "client.test"};
  std::optional<proto::AnyClient> client;
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
      options.upgrade = kv["upgrade"] == "never"    ? proto::Upgrade::Never
                        : kv["upgrade"] == "always" ? proto::Upgrade::Always
                                                    : proto::Upgrade::IfOffered;
      options.implicit_tls = kv["implicit"] == "1";
      options.helo_fallback = kv.count("helo_fallback") == 0 || kv["helo_fallback"] == "1";
      client.emplace(kv["lmtp"] == "1" ? proto::Family::Lmtp : family, options);
      step = client->start();
      continue;
    }
    ASSERT_TRUE(client) << "params: line must come first";
    if (line.starts_with("S: ")) {
      ASSERT_TRUE(std::holds_alternative<proto::ReadLine>(step)) << "client did not expect a line: " << describe(step);
      step = client->on_line(line.substr(3));
    } else if (line.starts_with("C: ")) {
      const auto* send = std::get_if<proto::Send>(&step);
      const auto* close = std::get_if<proto::Close>(&step);
      ASSERT_TRUE(send || close) << "expected the client to send, got " << describe(step);
      EXPECT_EQ(send ? send->bytes : close->bytes, line.substr(3) + "\r\n");
      if (send) step = proto::ReadLine{};
    } else if (line == "! starttls") {
      ASSERT_TRUE(std::holds_alternative<proto::StartTls>(step)) << describe(step);
      step = client->on_tls_established();
    } else if (line == "! tls-first") {
      step = client->on_tls_established();
    } else if (line == "= close") {
      EXPECT_TRUE(std::holds_alternative<proto::Close>(step)) << describe(step);
      ended = true;
    } else if (line.starts_with("= fail ")) {
      const auto* f = std::get_if<proto::Fail>(&step);
      ASSERT_TRUE(f) << describe(step);
      EXPECT_EQ(name(f->error.code), line.substr(7));
      EXPECT_EQ(f->error.fault, Fault::Peer);
      ended = true;
    } else if (line.starts_with("facts:")) {
      check_facts(client->facts(), line.substr(6));
    } else {
      FAIL() << "unknown transcript line";
    }
  }
  EXPECT_TRUE(ended) << file << " has no '= close' or '= fail' line";
}

int run_transcripts(proto::Family family, const std::string& dir) {
  const auto path = std::filesystem::path(OSTLS_TEST_DATA) / "transcripts" / dir;
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    if (entry.path().extension() != ".txt") continue;
    SCOPED_TRACE(entry.path().filename().string());
    run_transcript(family, entry.path());
    ++count;
  }
  return count;
}

}  // namespace ostls::test
