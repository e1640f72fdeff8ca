// Fuzzes what an SMTP peer can send us: the reply grammar (smtp::ReplyReader) and the whole
// client dialogue machine (smtp::Client) driven the way net::drive() and probe.cpp drive it.
// Input: two configuration bytes (limits; upgrade mode, LHLO, implicit TLS, HELO fallback), then
// the server's lines separated by '\n' (a trailing '\r' is stripped, as net::Channel does).
// Properties checked beyond "no crash": replies respect the limits and the code grammar; the
// dialogue ends within one step per line (no loop), STARTTLS is requested at most once, only
// after a 220 to our STARTTLS and never when the upgrade is disabled.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "protocols/reply.hpp"
#include "protocols/smtp.hpp"

namespace {

// Not assert(): the property must hold in every build type, and libFuzzer reports the abort.
void require(bool property) {
  if (!property) __builtin_trap();
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = std::min(text.find('\n', pos), text.size());
    auto line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    pos = end + 1;
  }
  return lines;
}

struct Config {
  ostls::Limits limits;
  ostls::smtp::ClientParams params;
};

// Byte 0 sets small limits, so that short inputs reach the "too long" paths; byte 1 the mode.
Config config_from(std::uint8_t limit_bits, std::uint8_t mode_bits) {
  constexpr ostls::proto::Upgrade upgrades[] = {ostls::proto::Upgrade::Never, ostls::proto::Upgrade::IfOffered,
                                                ostls::proto::Upgrade::Always, ostls::proto::Upgrade::IfOffered};
  Config c;
  c.limits.max_line = 512;
  c.limits.max_reply_lines = 1U + (limit_bits & 0x0FU);           // 1..16 lines
  c.limits.max_reply_bytes = 64U << ((limit_bits >> 4) & 0x03U);  // 64..512 bytes
  c.params.upgrade = upgrades[mode_bits & 0x03U];
  c.params.lmtp = (mode_bits & 0x04U) != 0;
  c.params.implicit_tls = (mode_bits & 0x08U) != 0;
  c.params.helo_fallback = (mode_bits & 0x10U) == 0;
  c.params.helo = "fuzz.example";
  c.params.limits = c.limits;
  return c;
}

void fuzz_reader(const ostls::Limits& limits, const std::vector<std::string_view>& lines) {
  ostls::smtp::ReplyReader reader(limits);
  for (const auto line : lines) {
    auto r = reader.feed(line);
    if (!r) {
      require(r.error().fault == ostls::Fault::Peer);
      continue;
    }
    if (!r->has_value()) continue;
    const auto& reply = **r;
    require(reply.code >= 200 && reply.code <= 599);
    require(!reply.lines.empty() && reply.lines.size() <= limits.max_reply_lines);
    (void)reply.text();
  }
}

void fuzz_client(const Config& config, const std::vector<std::string_view>& lines) {
  using namespace ostls::proto;
  ostls::smtp::Client client(config.params);
  Step step = client.start();
  require(std::holds_alternative<ReadLine>(step));
  if (config.params.implicit_tls) step = client.on_tls_established();  // probe.cpp: handshake first

  std::size_t next = 0, upgrades = 0;
  for (;;) {
    if (std::holds_alternative<Send>(step) || std::holds_alternative<ReadLine>(step)) {
      if (next == lines.size()) return;  // the peer closed the connection
      step = client.on_line(lines[next++]);
      continue;
    }
    if (std::holds_alternative<StartTls>(step)) {
      require(!config.params.implicit_tls && config.params.upgrade != Upgrade::Never);
      require(++upgrades == 1);
      const auto& facts = client.facts();
      require(facts.starttls_sent && facts.starttls_accepted && !facts.refusal);
      step = client.on_tls_established();
      continue;
    }
    return;  // Close or Fail: the driver stops here
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto config = config_from(data[0], data[1]);
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  const auto lines = split_lines(text);
  fuzz_reader(config.limits, lines);
  fuzz_client(config, lines);
  return 0;
}
