// Where a scan's targets come from: the command line's targets first, then the lines of --input
// (a file, or `-` for standard input), read as the scan goes — never loaded whole. A regular file
// is read with plain read() (it never blocks for long); a pipe, socket or terminal through the
// event loop, so that a slow producer does not stall the probes in flight.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "core/error.hpp"
#include "net/coro.hpp"
#include "scan/input.hpp"

namespace ostls::scan {

struct SourceLine {
  std::string where;  // "argument 2", "input:17" — for error messages
  InputLine line;
};

class Source {
public:
  // `input`: empty for none, "-" for standard input, else a file path.
  [[nodiscard]] static Result<std::unique_ptr<Source>> open(const asio::any_io_executor& ex,
                                                            std::vector<std::string> arguments,
                                                            const std::string& input);
  ~Source();
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  // The next line (blank lines and comments included: the caller skips them with target_text());
  // nullopt at the end of the input or after cancel().
  [[nodiscard]] net::awaitable<std::optional<SourceLine>> next();
  // Ends a pending read of a pipe or terminal at once (Ctrl-C).
  void cancel();

private:
  Source(const asio::any_io_executor& ex, std::vector<std::string> arguments) : arguments_(std::move(arguments)), pipe_(ex) {}
  [[nodiscard]] net::awaitable<bool> fill();  // false at the end of the stream

  std::vector<std::string> arguments_;
  std::size_t next_argument_ = 0;
  std::string name_;       // "input" or the path
  int fd_ = -1;            // regular file or other blocking-safe descriptor; -1: none / pipe
  bool owns_fd_ = false;
  asio::posix::stream_descriptor pipe_;  // a dup() of a pipe, socket or terminal
  bool use_pipe_ = false;
  bool at_end_ = false, cancelled_ = false;
  LineSplitter split_;
  std::string chunk_ = std::string(1 << 16, '\0');
};

// For the progress line's total: how many lines of the regular file at `path` are too long or
// hold a target text for which `counts` says yes; nullopt for standard input or anything but a
// regular file (a pipe cannot be read twice). Reads the file once, line by line.
[[nodiscard]] std::optional<std::uint64_t> count_targets(const std::string& path,
                                                         const std::function<bool(std::string_view)>& counts);

}  // namespace ostls::scan
