// Fuzzes the TLS-RPT policy record (RFC 8460 §3), which comes from a domain's DNS: the input is
// read both as one TXT RDATA in wire format (dns::parse_txt(), RFC 1035 §3.3.14) and as a
// record's text, through report::select_record() and report::parse_record(); the input is also
// split at newlines into several TXT records for select_record().
// Properties checked beyond "no crash": errors are Malformed Peer faults; a parsed record began
// with v=TLSRPTv1 and has at least one rua URI, each non-empty, without white space or an
// unencoded ",", "!" or ";", with a mailto: or https: scheme; extension names are non-empty and
// values hold no "=", ";" or white space; parsing is deterministic.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dns/records.hpp"
#include "report/tlsrpt_record.hpp"

namespace {

void require(bool property) {
  if (!property) __builtin_trap();
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
    if (c != prefix[i]) return false;
  }
  return true;
}

void check_parse(std::string_view text) {
  const auto r = ostls::report::parse_record(text);
  if (!r) {
    require(r.error().code == ostls::Errc::Malformed && r.error().fault == ostls::Fault::Peer);
    require(!r.error().detail.empty());
    return;
  }
  require(text.starts_with("v=TLSRPTv1"));
  require(!r->rua.empty());
  for (const auto& uri : r->rua) {
    require(!uri.empty());
    require(uri.find_first_of(" \t,!;") == std::string::npos);
    require(starts_with_nocase(uri, "mailto:") || starts_with_nocase(uri, "https://"));
  }
  for (const auto& [name, value] : r->extensions) {
    require(!name.empty() && !value.empty());
    require(value.find_first_of(" \t=;") == std::string::npos);
  }
  const auto again = ostls::report::parse_record(text);
  require(again && again->rua == r->rua && again->extensions == r->extensions);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (const auto text = ostls::dns::parse_txt(input)) {
    require(text->size() < size);  // at least one length byte per string
    check_parse(*text);
  }

  check_parse(input);

  std::vector<std::string> records;
  std::size_t start = 0;
  while (start <= input.size()) {
    const auto nl = input.find('\n', start);
    const auto end = nl == std::string_view::npos ? input.size() : nl;
    records.emplace_back(input.substr(start, end - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  if (const auto chosen = ostls::report::select_record(records)) {
    require(chosen->starts_with("v=TLSRPTv1"));
    check_parse(*chosen);
  }
  return 0;
}
