// An asynchronous counting semaphore for coroutines on one single-threaded io_context: at most
// `limit` holders; acquire() waits in FIFO order and release() hands the permit straight to the
// first waiter. Used for the scan's global concurrency and its per-host politeness. open() wakes
// every waiter at once (stopping a scan): each then holds a permit it must release as usual.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include "net/coro.hpp"

namespace ostls::scan {

class Gate {
public:
  Gate(const asio::any_io_executor& ex, std::size_t limit) : ex_(ex), limit_(limit) {}

  [[nodiscard]] net::awaitable<void> acquire() {
    if (in_use_ < limit_ && waiters_.empty()) {
      ++in_use_;
      co_return;
    }
    auto waiter = std::make_shared<asio::steady_timer>(ex_, std::chrono::steady_clock::time_point::max());
    waiters_.push_back(waiter);
    // Ends when release() or open() cancels the timer: the permit is then ours.
    (void)co_await waiter->async_wait(net::use_result);
  }

  void release() {
    if (!waiters_.empty()) {
      waiters_.front()->cancel();  // in_use_ unchanged: the permit moves to the waiter
      waiters_.pop_front();
      return;
    }
    --in_use_;
  }

  void open() {
    in_use_ += waiters_.size();
    for (auto& w : waiters_) w->cancel();
    waiters_.clear();
  }

  [[nodiscard]] std::size_t in_use() const { return in_use_; }
  [[nodiscard]] bool idle() const { return in_use_ == 0 && waiters_.empty(); }

private:
  asio::any_io_executor ex_;
  std::size_t limit_;
  std::size_t in_use_ = 0;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
};

}  // namespace ostls::scan
