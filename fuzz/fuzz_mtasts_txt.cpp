// Fuzzes the `_mta-sts` TXT records from DNS (RFC 8461 §3.1): mtasts::parse_txt() on the whole
// input, and mtasts::select_txt() on the input split at 0xff bytes into the TXT records of one
// answer.
// Properties checked beyond "no crash": errors are Peer faults with a detail; a parsed id is 1-32
// letters and digits; extension names and values follow the ABNF; selecting from a list that
// holds only the input agrees with parse_txt() whenever the input is chosen at all.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mtasts/policy.hpp"

namespace {

void require(bool property) {
  if (!property) __builtin_trap();
}

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

void check_record(const ostls::mtasts::TxtRecord& txt) {
  require(!txt.id.empty() && txt.id.size() <= 32);
  for (char c : txt.id) require(alnum(c));
  for (const auto& e : txt.extensions) {
    require(!e.name.empty() && e.name.size() <= 32 && alnum(e.name[0]) && e.name != "id");
    require(!e.value.empty());
    for (char c : e.value) require(c > 0x20 && c < 0x7f && c != ';' && c != '=');
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto txt = ostls::mtasts::parse_txt(text);
  if (txt) {
    check_record(*txt);
  } else {
    require(txt.error().fault == ostls::Fault::Peer);
    require(!txt.error().detail.empty());
  }
  // The whole input as the only TXT record: chosen and parsed alike, or not an STSv1 record.
  const std::vector<std::string> one{std::string(text)};
  const auto alone = ostls::mtasts::select_txt(one);
  if (alone && alone->has_value()) require(txt && (*alone)->id == txt->id);
  if (!alone) require(!txt);
  if (txt) require(alone && alone->has_value());

  std::vector<std::string> records;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || static_cast<unsigned char>(text[i]) == 0xff) {
      records.emplace_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  const auto chosen = ostls::mtasts::select_txt(records);
  if (chosen && chosen->has_value()) check_record(**chosen);
  if (!chosen) require(chosen.error().fault == ostls::Fault::Peer && !chosen.error().detail.empty());
  return 0;
}
