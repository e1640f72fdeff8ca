#include "scan/source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <asio/buffer.hpp>
#include <fmt/format.h>

namespace ostls::scan {

Result<std::unique_ptr<Source>> Source::open(const asio::any_io_executor& ex, std::vector<std::string> arguments,
                                             const std::string& input) {
  std::unique_ptr<Source> s(new Source(ex, std::move(arguments)));
  if (input.empty()) {
    s->at_end_ = true;
    return s;
  }
  const bool from_stdin = input == "-";
  s->name_ = from_stdin ? "stdin" : input;
  const int fd = from_stdin ? STDIN_FILENO : ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(Errc::Usage, Fault::Config, fmt::format("cannot open {}: {}", input, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    if (!from_stdin) ::close(fd);
    return fail(Errc::Usage, Fault::Config, fmt::format("cannot stat {}: {}", input, std::strerror(errno)));
  }
  // epoll cannot wait on regular files (nor on /dev/null), and they never block for long.
  if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || ::isatty(fd) == 1) {
    const int copy = ::dup(fd);
    if (!from_stdin) ::close(fd);
    if (copy < 0) return fail(Errc::Usage, Fault::Local, fmt::format("cannot dup {}: {}", input, std::strerror(errno)));
    s->pipe_.assign(copy);  // Asio restores blocking mode when it closes the descriptor
    s->use_pipe_ = true;
  } else {
    s->fd_ = fd;
    s->owns_fd_ = !from_stdin;
  }
  return s;
}

Source::~Source() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

void Source::cancel() {
  cancelled_ = true;
  std::error_code ignored;
  if (use_pipe_) pipe_.cancel(ignored);
}

net::awaitable<bool> Source::fill() {
  for (;;) {
    if (use_pipe_) {
      auto [ec, n] = co_await pipe_.async_read_some(asio::buffer(chunk_), net::use_result);
      if (ec || n == 0) co_return false;  // EOF, error or cancel(): the input ends here
      split_.feed(std::string_view(chunk_.data(), n));
      co_return true;
    }
    const ssize_t n = ::read(fd_, chunk_.data(), chunk_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) co_return false;
    split_.feed(std::string_view(chunk_.data(), static_cast<std::size_t>(n)));
    co_return true;
  }
}

net::awaitable<std::optional<SourceLine>> Source::next() {
  if (cancelled_) co_return std::nullopt;
  if (next_argument_ < arguments_.size()) {
    ++next_argument_;
    co_return SourceLine{.where = fmt::format("argument {}", next_argument_),
                         .line = InputLine{.number = next_argument_, .text = std::move(arguments_[next_argument_ - 1])}};
  }
  while (!at_end_) {
    if (auto l = split_.next()) co_return SourceLine{.where = fmt::format("{}:{}", name_, l->number), .line = std::move(*l)};
    if (!co_await fill()) {
      at_end_ = true;
      if (cancelled_) co_return std::nullopt;
      if (auto l = split_.finish()) co_return SourceLine{.where = fmt::format("{}:{}", name_, l->number), .line = std::move(*l)};
    }
  }
  co_return std::nullopt;
}

std::optional<std::uint64_t> count_targets(const std::string& path,
                                           const std::function<bool(std::string_view)>& counts) {
  if (path.empty() || path == "-") return std::nullopt;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::nullopt;
  }
  LineSplitter split;
  std::string chunk(1 << 16, '\0');
  std::uint64_t n = 0;
  auto one = [&](const InputLine& l) {
    if (l.too_long) {
      ++n;
    } else if (const auto text = target_text(l.text); text && counts(*text)) {
      ++n;
    }
  };
  for (;;) {
    const ssize_t got = ::read(fd, chunk.data(), chunk.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    split.feed(std::string_view(chunk.data(), static_cast<std::size_t>(got)));
    while (auto l = split.next()) one(*l);
  }
  if (auto l = split.finish()) one(*l);
  ::close(fd);
  return n;
}

}  // namespace ostls::scan
