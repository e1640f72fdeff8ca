#include "scan/input.hpp"

namespace ostls::scan {

void LineSplitter::feed(std::string_view bytes) { buffer_.append(bytes); }

InputLine LineSplitter::take(std::size_t end) {
  std::size_t length = end;
  if (length > 0 && buffer_[length - 1] == '\r') --length;  // CRLF
  InputLine line{.number = ++number_, .text = {}, .too_long = dropping_ || length > max_line_};
  if (!line.too_long) line.text.assign(buffer_, 0, length);
  dropping_ = false;
  return line;
}

std::optional<InputLine> LineSplitter::next() {
  const auto nl = buffer_.find('\n', scanned_);
  if (nl == std::string::npos) {
    // Keep at most max_line bytes of a line without its end; beyond that the line is too long
    // whatever follows, so its bytes need not be kept.
    if (buffer_.size() > max_line_ + 1) {  // + 1: room for the CR of a CRLF
      dropping_ = true;
      buffer_.clear();
    }
    scanned_ = buffer_.size();
    return std::nullopt;
  }
  auto line = take(nl);
  buffer_.erase(0, nl + 1);
  scanned_ = 0;
  return line;
}

std::optional<InputLine> LineSplitter::finish() {
  if (buffer_.empty() && !dropping_) return std::nullopt;
  auto line = take(buffer_.size());
  buffer_.clear();
  scanned_ = 0;
  return line;
}

std::optional<std::string_view> target_text(std::string_view line) {
  const auto first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos || line[first] == '#') return std::nullopt;
  const auto last = line.find_last_not_of(" \t");
  return line.substr(first, last - first + 1);
}

}  // namespace ostls::scan
