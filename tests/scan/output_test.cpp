// The scan's output file (scan/output.hpp): whole lines only; --resume cuts a partial last line
// left by a kill, collects the targets of the complete lines, and appends after them; a file
// that is not a scan's output is refused; --summarize ignores a partial last line.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "scan/output.hpp"

namespace ostls::scan {
namespace {

class OutputTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ostls-scan-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "out.jsonl").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& content) { std::ofstream(path_, std::ios::binary) << content; }
  std::string read() {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::filesystem::path dir_;
  std::string path_;
};

const std::string line_a = R"({"target":"smtp://[192.0.2.1]","verdict":"ok"})";
const std::string line_b = R"({"target":"imap://[192.0.2.2]:143","verdict":"fail"})";

TEST_F(OutputTest, ResumeCutsPartialLastLine) {
  const std::string partial = R"({"target":"smtp://[192.0.2.3]","verd)";
  write(line_a + "\n" + line_b + "\n" + partial);
  int seen = 0;
  auto out = Output::open(path_, true, [&](const nlohmann::json&) { ++seen; });
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(out->resumed.lines, 2u);
  EXPECT_EQ(out->resumed.cut_bytes, partial.size());
  EXPECT_TRUE(out->resumed.done.contains("smtp://[192.0.2.1]"));
  EXPECT_TRUE(out->resumed.done.contains("imap://[192.0.2.2]:143"));
  EXPECT_FALSE(out->resumed.done.contains("smtp://[192.0.2.3]"));
  EXPECT_EQ(read(), line_a + "\n" + line_b + "\n");
  // New lines go after the complete ones.
  ASSERT_TRUE(out->write_line(R"({"target":"smtp://[192.0.2.3]"})"));
  EXPECT_EQ(read(), line_a + "\n" + line_b + "\n" + R"({"target":"smtp://[192.0.2.3]"})" + "\n");
}

TEST_F(OutputTest, ResumeOnlyPartialLine) {
  write(R"({"target":)");
  auto out = Output::open(path_, true, nullptr);
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ(out->resumed.lines, 0u);
  EXPECT_EQ(read(), "");
}

TEST_F(OutputTest, ResumeMissingFileStartsEmpty) {
  auto out = Output::open(path_, true, nullptr);
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_TRUE(out->resumed.done.empty());
  EXPECT_TRUE(std::filesystem::exists(path_));
}

TEST_F(OutputTest, Refusals) {
  struct Case {
    std::string_view label;
    std::string content;
    bool resume;
    std::string_view error;
  };
  const Case cases[] = {
      {"existing output without --resume", line_a + "\n", false, "--resume"},
      {"a complete line that is not JSON", line_a + "\nhello\n", true, "out.jsonl:2: not an outcome"},
      {"an object without target", line_a + "\n{\"verdict\":\"ok\"}\n", true, "out.jsonl:2: not an outcome"},
      {"target not a string", "{\"target\":5}\n", true, "out.jsonl:1: not an outcome"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.label));
    write(c.content);
    auto out = Output::open(path_, c.resume, nullptr);
    ASSERT_FALSE(out);
    EXPECT_NE(out.error().detail.find(c.error), std::string::npos) << out.error().detail;
    EXPECT_EQ(read(), c.content);  // never modified when refused
  }
}

TEST_F(OutputTest, EmptyFileWithoutResumeIsFine) {
  write("");
  auto out = Output::open(path_, false, nullptr);
  ASSERT_TRUE(out) << out.error().detail;
  ASSERT_TRUE(out->write_line(line_a));
  EXPECT_EQ(read(), line_a + "\n");
}

TEST_F(OutputTest, SummarizeReadsCompleteLinesOnly) {
  write(line_a + "\n\nnot json\n" + line_b + "\n" + R"({"target":"x)");
  std::vector<std::string> targets;
  std::vector<std::uint64_t> bad;
  auto r = read_outcomes(
      path_, [&](const nlohmann::json& o) { targets.push_back(o["target"].get<std::string>()); },
      [&](std::uint64_t line) { bad.push_back(line); });
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(targets, (std::vector<std::string>{"smtp://[192.0.2.1]", "imap://[192.0.2.2]:143"}));
  EXPECT_EQ(bad, (std::vector<std::uint64_t>{3}));
}

}  // namespace
}  // namespace ostls::scan
