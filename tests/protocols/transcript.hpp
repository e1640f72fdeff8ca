// Golden dialogues for every protocol machine (tests/data/transcripts/<proto>/*.txt):
//   params: upgrade=never|if-offered|always implicit=1 lmtp=1 helo_fallback=0
//   S: <a line the server sends>       C: <the line the client must send next>
//   ! starttls  (the client asks for the handshake; it is "done" here)   ! tls-first (implicit TLS)
//   = close | = fail <errc>            (how the dialogue must end)
//   facts: starttls_offered=1|0|null tls=1 caps_plain=A|B caps_tls=… refusal=<prefix>
//          after_tls=1 requiretls=1 events=type[|type…]
#pragma once

#include <filesystem>

#include "protocols/registry.hpp"

namespace ostls::test {

// Runs one transcript file against a fresh client of `family`; reports failures through gtest.
void run_transcript(proto::Family family, const std::filesystem::path& file);

// Runs every *.txt under tests/data/transcripts/<dir>; returns how many.
int run_transcripts(proto::Family family, const std::string& dir);

}  // namespace ostls::test
