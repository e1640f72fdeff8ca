#include "scan/output.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "scan/input.hpp"

namespace ostls::scan {
namespace {

Error io_error(std::string_view what, const std::string& path) {
  return Error{Errc::Io, Fault::Local, fmt::format("{} {}: {}", what, path, std::strerror(errno))};
}

// Streams the lines of `fd` from offset 0 to `end` through `line`; a line longer than
// max_output_line is an error (no outcome is that long).
Result<void> each_line(int fd, const std::string& path, off_t end,
                       const std::function<Result<void>(const InputLine&)>& line) {
  LineSplitter split(limits::max_output_line);
  std::string chunk(1 << 16, '\0');
  off_t at = 0;
  while (at < end) {
    const auto want = static_cast<std::size_t>(std::min<off_t>(end - at, static_cast<off_t>(chunk.size())));
    const ssize_t n = ::pread(fd, chunk.data(), want, at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unexpected<Error>(io_error("cannot read", path));
    if (n == 0) break;
    at += n;
    split.feed(std::string_view(chunk.data(), static_cast<std::size_t>(n)));
    while (auto l = split.next()) {
      if (l->too_long) return fail(Errc::Malformed, Fault::Config, fmt::format("{}:{}: line too long", path, l->number));
      if (auto r = line(*l); !r) return r;
    }
  }
  return {};
}

// Offset just past the last '\n' of the first `size` bytes of `fd` (0 when there is none).
Result<off_t> complete_end(int fd, const std::string& path, off_t size) {
  char block[4096];
  off_t end = size;
  while (end > 0) {
    const off_t start = end > static_cast<off_t>(sizeof block) ? end - static_cast<off_t>(sizeof block) : 0;
    const ssize_t n = ::pread(fd, block, static_cast<std::size_t>(end - start), start);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unexpected<Error>(io_error("cannot read", path));
    for (ssize_t i = n; i > 0; --i) {
      if (block[i - 1] == '\n') return start + i;
    }
    end = start;
  }
  return off_t{0};
}

}  // namespace

Result<Output> Output::open(const std::string& path, bool resume,
                            const std::function<void(const nlohmann::json&)>& each) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return unexpected<Error>(io_error("cannot open", path));
  Output out(fd, true);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return unexpected<Error>(io_error("cannot stat", path));
  if (!S_ISREG(st.st_mode)) {
    if (resume) return fail(Errc::Usage, Fault::Config, fmt::format("--resume needs a regular file: {}", path));
    return out;  // a FIFO or device: nothing to read back
  }
  if (st.st_size > 0 && !resume) {
    return fail(Errc::Usage, Fault::Config,
                fmt::format("{} exists and is not empty: continue it with --resume, or remove it", path));
  }
  if (!resume) return out;
  auto end = complete_end(fd, path, st.st_size);
  if (!end) return unexpected<Error>(end.error());
  if (*end < st.st_size) {
    // A partial last line: written by a process killed mid-write (never by a clean stop).
    if (::ftruncate(fd, *end) != 0) return unexpected<Error>(io_error("cannot truncate", path));
    out.resumed.cut_bytes = static_cast<std::uint64_t>(st.st_size - *end);
  }
  auto read = each_line(fd, path, *end, [&](const InputLine& l) -> Result<void> {
    auto o = nlohmann::json::parse(l.text, nullptr, false);
    const auto target = o.is_object() ? o.find("target") : o.end();
    if (!o.is_object() || target == o.end() || !target->is_string()) {
      return fail(Errc::Malformed, Fault::Config,
                  fmt::format("{}:{}: not an outcome of ostls scan (a JSON object with a \"target\"); "
                              "refusing to resume into it",
                              path, l.number));
    }
    out.resumed.done.insert(target->get<std::string>());
    ++out.resumed.lines;
    if (each) each(o);
    return {};
  });
  if (!read) return unexpected<Error>(read.error());
  return out;
}

Output Output::standard_output() { return Output(STDOUT_FILENO, false); }

Output::Output(Output&& other) noexcept
    : resumed(std::move(other.resumed)), fd_(other.fd_), owned_(other.owned_), buffer_(std::move(other.buffer_)) {
  other.fd_ = -1;
  other.owned_ = false;
}

Output::~Output() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

Result<void> Output::write_line(std::string_view line) {
  buffer_.assign(line);
  buffer_ += '\n';
  std::string_view rest = buffer_;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Errc::Io, Fault::Local, fmt::format("cannot write the output: {}", std::strerror(errno)));
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> read_outcomes(const std::string& path, const std::function<void(const nlohmann::json&)>& each,
                           const std::function<void(std::uint64_t)>& unreadable) {
  const bool stdin_input = path == "-";
  const int fd = stdin_input ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unexpected<Error>(io_error("cannot open", path));
  LineSplitter split(limits::max_output_line);
  std::string chunk(1 << 16, '\0');
  auto one = [&](const InputLine& l) {
    auto o = l.too_long ? nlohmann::json() : nlohmann::json::parse(l.text, nullptr, false);
    if (o.is_object()) {
      each(o);
    } else if (!l.too_long && !target_text(l.text)) {
      // blank line: nothing
    } else {
      unreadable(l.number);
    }
  };
  Result<void> result;
  for (;;) {
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = unexpected<Error>(io_error("cannot read", path));
      break;
    }
    if (n == 0) break;
    split.feed(std::string_view(chunk.data(), static_cast<std::size_t>(n)));
    while (auto l = split.next()) one(*l);
  }
  // split.finish(): a partial last line (a scan killed mid-write) is not an outcome.
  if (!stdin_input) ::close(fd);
  return result;
}

}  // namespace ostls::scan
