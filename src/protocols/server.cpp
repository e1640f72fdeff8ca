#include "protocols/server.hpp"

namespace ostls::proto {

Action relay_cleartext(ServerFacts& facts, std::string_view line) {
  facts.relayed_cleartext = true;
  return to_backend(std::string(line) + "\r\n", Next::Relay);
}

}  // namespace ostls::proto
