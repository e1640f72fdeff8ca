// gzip (RFC 1952) of a finished report, for RFC 8460 §5.3's "json.gz" files and
// application/tlsrpt+gzip. zlib only here. The header's modification time is left 0, so the same
// report always compresses to the same bytes.
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace ostls::report {

[[nodiscard]] Result<std::string> gzip(std::string_view data);

}  // namespace ostls::report
