// Fuzzes what `ostls scan` reads from users: the input-line reader (scan::LineSplitter +
// target_text, chunked as the first byte says) and, for --resume/--summarize, each line as an
// outcome for scan::Summary. Properties beyond "no crash": line numbers count up by one, no line
// holds a '\n' or exceeds the limit, the buffer stays within the limit plus one chunk, a target
// text has no surrounding blanks and is not a comment, and Summary never throws and counts every
// object once.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "scan/input.hpp"
#include "scan/summary.hpp"

namespace {

void require(bool property) {
  if (!property) __builtin_trap();
}

constexpr std::size_t max_line = 64;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 32;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  ostls::scan::LineSplitter split(max_line);
  ostls::scan::Summary summary;
  std::size_t expected_number = 0, objects = 0;
  auto check = [&](const ostls::scan::InputLine& l) {
    require(l.number == ++expected_number);
    require(l.text.find('\n') == std::string::npos);
    require(l.text.size() <= max_line);
    if (l.too_long) require(l.text.empty());
    if (const auto t = ostls::scan::target_text(l.text)) {
      require(!t->empty() && t->front() != ' ' && t->front() != '\t' && t->back() != ' ' && t->back() != '\t');
      require(t->front() != '#');
    }
    const auto j = nlohmann::json::parse(l.text, nullptr, false);
    if (j.is_object()) ++objects;
    summary.add(j);
  };
  for (std::size_t at = 0; at < input.size(); at += chunk) {
    split.feed(input.substr(at, chunk));
    while (auto l = split.next()) check(*l);
    require(split.buffered() <= max_line + 1);
  }
  if (auto l = split.finish()) check(*l);
  require(summary.targets == objects);
  (void)ostls::scan::to_text(summary);
  (void)ostls::scan::to_json(summary).dump();
  return 0;
}
