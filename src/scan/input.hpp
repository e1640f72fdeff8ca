// The scan's input as lines of text: a byte stream split at '\n' (CRLF accepted) with a bound on
// the length of one line, and which lines are targets (SPEC §2 syntax, one per line; blank lines
// and lines starting with '#' are skipped). Pure: no I/O here — scan/source.hpp reads the file or
// pipe and feeds the bytes. Memory is bounded by `max_line` plus one fed chunk, whatever the input
// size: an over-long line is dropped as it streams by and reported once, as too long.
// Does not parse targets (probe::parse_target does).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ostls::scan {

namespace limits {
inline constexpr std::size_t max_input_line = 4096;  // bytes of one input line, newline excluded
}  // namespace limits

struct InputLine {
  std::size_t number = 0;  // 1-based line number in the stream
  std::string text;        // without the line end; empty when too_long
  bool too_long = false;   // longer than max_line: its text was dropped
};

class LineSplitter {
public:
  explicit LineSplitter(std::size_t max_line = limits::max_input_line) : max_line_(max_line) {}

  // Appends bytes. Call next() until it returns nullopt before feeding more: the buffer then
  // never holds more than max_line bytes plus this chunk.
  void feed(std::string_view bytes);
  // The next complete line, or nullopt when more bytes are needed.
  [[nodiscard]] std::optional<InputLine> next();
  // At the end of the stream: the last line when it had no newline, else nullopt.
  [[nodiscard]] std::optional<InputLine> finish();
  // Bytes held (for tests of the memory bound).
  [[nodiscard]] std::size_t buffered() const { return buffer_.size(); }

private:
  InputLine take(std::size_t end);

  std::size_t max_line_;
  std::string buffer_;
  std::size_t scanned_ = 0;  // buffer_[0, scanned_) holds no '\n'
  std::size_t number_ = 0;
  bool dropping_ = false;    // the current line passed max_line: discard it up to its '\n'
};

// The target written on a line: the text with surrounding blanks (space, tab) removed; nullopt
// for a blank line or a comment ('#' as the first non-blank character).
[[nodiscard]] std::optional<std::string_view> target_text(std::string_view line);

}  // namespace ostls::scan
