// A deadline for a whole story (one probe of one target, connect to QUIT). When it expires it
// runs the current abort hook (which closes the current connection), so every pending operation
// completes at once with Errc::Timeout — call sites build no timers of their own.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

namespace ostls::net {

class Watchdog {
public:
  Watchdog(const asio::any_io_executor& ex, std::chrono::steady_clock::duration timeout)
      : state_(std::make_shared<State>(ex)) {
    state_->timer.expires_after(timeout);
    state_->timer.async_wait([s = state_](const std::error_code& ec) {
      if (ec) return;
      s->expired = true;
      if (s->hook) s->hook();
    });
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    state_->hook = nullptr;
    state_->timer.cancel();
  }

  // What to do on expiry; replaced as connections come and go. Runs at once if already expired.
  void on_expiry(std::function<void()> hook) {
    state_->hook = std::move(hook);
    if (state_->expired && state_->hook) state_->hook();
  }
  void clear() { state_->hook = nullptr; }
  [[nodiscard]] bool expired() const { return state_->expired; }

private:
  struct State {
    explicit State(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::function<void()> hook;
    bool expired = false;
  };
  std::shared_ptr<State> state_;
};

}  // namespace ostls::net
