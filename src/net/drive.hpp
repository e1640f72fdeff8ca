// Runs a sans-IO protocol machine on a Channel (Envoy's doDecode() loop as a coroutine):
// Send → write then read (a line, or bytes for binary machines), ReadLine → read and feed,
// ReadBytes → read bytes and feed. Returns when the machine asks for the TLS
// upgrade (StartTls), ends the dialogue (Close, after writing its bytes unless `say_goodbye` is
// false: `ostls proxy` keeps the session open for the application) or fails.
#pragma once

#include <variant>

#include "net/channel.hpp"
#include "protocols/protocol.hpp"

namespace ostls::net {

template <class Machine>
[[nodiscard]] awaitable<Result<proto::Step>> drive(Machine& machine, Channel& channel, proto::Step step,
                                                   bool say_goodbye = true) {
  for (;;) {
    if (auto* send = std::get_if<proto::Send>(&step)) {
      auto w = co_await channel.write(send->bytes);
      if (!w) co_return unexpected<Error>(w.error());
      step = send->then_read_bytes > 0 ? proto::Step{proto::ReadBytes{send->then_read_bytes}} : proto::Step{proto::ReadLine{}};
      continue;
    }
    if (auto* want = std::get_if<proto::ReadBytes>(&step)) {
      if constexpr (requires { machine.on_bytes(std::string_view{}); }) {
        auto bytes = co_await channel.read_bytes(want->max);
        if (!bytes) co_return unexpected<Error>(bytes.error());
        step = machine.on_bytes(*bytes);
        continue;
      } else {
        co_return proto::Step{proto::Fail{Error{Errc::Malformed, Fault::Local, "a line-based machine asked for bytes"}}};
      }
    }
    if (std::holds_alternative<proto::ReadLine>(step)) {
      auto line = co_await channel.read_line();
      if (!line) co_return unexpected<Error>(line.error());
      step = machine.on_line(*line);
      continue;
    }
    if (auto* close = std::get_if<proto::Close>(&step); close && !close->bytes.empty() && say_goodbye) {
      // The dialogue is over; a peer that hangs up before our QUIT changes nothing.
      (void)co_await channel.write(close->bytes);
    }
    co_return step;
  }
}

}  // namespace ostls::net
