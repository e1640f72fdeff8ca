// The JSON Lines output of `ostls scan`: one complete line per outcome, written with one write()
// as each probe finishes, so the file only ever grows by whole lines; and --resume: after a crash
// or a kill the file may end in a partial line, which is cut off (the file is truncated after its
// last newline) and never counted, and the `target` of every complete line is collected so that
// the scan skips it. A complete line that is not an outcome object means the file is not (only)
// ours: that is an error, never guessed at. Plain POSIX file I/O; no Asio.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include <nlohmann/json_fwd.hpp>

#include "core/error.hpp"

namespace ostls::scan {

namespace limits {
inline constexpr std::size_t max_output_line = 16 << 20;  // one outcome line when reading it back
}  // namespace limits

struct ResumeState {
  std::unordered_set<std::string> done;  // the `target` of every complete line
  std::uint64_t lines = 0;               // complete lines kept
  std::uint64_t cut_bytes = 0;           // bytes of a trailing partial line cut off
};

// An output descriptor: a file opened for appending, or standard output (not closed).
class Output {
public:
  // --output FILE: refuses an existing non-empty file unless `resume`; with `resume` reads it as
  // above, calling `each` with every complete line's object (for the summary), before appending.
  [[nodiscard]] static Result<Output> open(const std::string& path, bool resume,
                                           const std::function<void(const nlohmann::json&)>& each);
  [[nodiscard]] static Output standard_output();

  Output(Output&& other) noexcept;
  Output& operator=(Output&&) = delete;
  Output(const Output&) = delete;
  ~Output();

  // `line` plus '\n' with one write() (repeated only for a short write): the line is complete
  // in the file before the next one starts. Fault::Local on failure (disk full, closed pipe).
  [[nodiscard]] Result<void> write_line(std::string_view line);

  ResumeState resumed;

private:
  Output(int fd, bool owned) : fd_(fd), owned_(owned) {}
  int fd_ = -1;
  bool owned_ = false;
  std::string buffer_;
};

// Reads every complete line of the file at `path` (a scan's output), calling `each` with its
// object; lines that are not JSON objects are passed to `unreadable` with their number. A trailing
// partial line is ignored (not truncated: this is for --summarize, which only reads).
[[nodiscard]] Result<void> read_outcomes(const std::string& path,
                                         const std::function<void(const nlohmann::json&)>& each,
                                         const std::function<void(std::uint64_t)>& unreadable);

}  // namespace ostls::scan
