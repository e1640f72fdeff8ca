#include "protocols/ldap.hpp"

#include <fmt/format.h>

#include "protocols/text.hpp"

namespace ostls::ldap {
namespace {

constexpr unsigned char tag_sequence = 0x30, tag_integer = 0x02, tag_enumerated = 0x0a, tag_octets = 0x04;
constexpr unsigned char tag_extended_request = 0x77;   // [APPLICATION 23] constructed
constexpr unsigned char tag_extended_response = 0x78;  // [APPLICATION 24] constructed
constexpr unsigned char tag_request_name = 0x80;       // [0] primitive
constexpr unsigned char tag_response_name = 0x8a;     // [10] primitive

std::string tlv(unsigned char tag, std::string_view value) {
  std::string out(1, static_cast<char>(tag));
  if (value.size() < 128) {
    out += static_cast<char>(value.size());
  } else {
    out += '\x82';
    out += static_cast<char>((value.size() >> 8) & 0xff);
    out += static_cast<char>(value.size() & 0xff);
  }
  return out.append(value);
}

std::string integer(int v) { return tlv(tag_integer, std::string(1, static_cast<char>(v & 0x7f))); }

// A cursor over BER elements inside one constructed value.
struct Reader {
  std::string_view in;
  Result<std::pair<unsigned char, std::string_view>> next() {
    auto size = element_size(in, in.size());
    if (!size) return unexpected<Error>(size.error());
    if (!*size || **size > in.size()) return fail(Errc::Malformed, Fault::Peer, "truncated BER element");
    const auto total = **size;
    const auto header = in.size() > 1 && (static_cast<unsigned char>(in[1]) & 0x80)
                            ? 2 + (static_cast<unsigned char>(in[1]) & 0x7f)
                            : std::size_t{2};
    auto out = std::pair{static_cast<unsigned char>(in[0]), in.substr(header, total - header)};
    in.remove_prefix(total);
    return out;
  }
};

Result<int> small_int(std::string_view v) {
  if (v.empty() || v.size() > 4) return fail(Errc::Malformed, Fault::Peer, "bad BER integer");
  int out = (static_cast<unsigned char>(v[0]) & 0x80) ? -1 : 0;
  for (char c : v) out = (out << 8) | static_cast<unsigned char>(c);
  return out;
}

}  // namespace

std::string starttls_request(int id) {
  return tlv(tag_sequence, integer(id) + tlv(tag_extended_request, tlv(tag_request_name, starttls_oid)));
}

std::string unbind_request(int id) { return tlv(tag_sequence, integer(id) + std::string("\x42\x00", 2)); }

Result<std::optional<std::size_t>> element_size(std::string_view buf, std::size_t max) {
  if (buf.size() < 2) return std::optional<std::size_t>{};
  const auto first = static_cast<unsigned char>(buf[1]);
  std::size_t header = 2, length = first;
  if (first & 0x80) {
    const std::size_t n = first & 0x7f;
    if (n == 0) return fail(Errc::Malformed, Fault::Peer, "indefinite BER length");
    if (n > 4) return fail(Errc::Malformed, Fault::Peer, "BER length of more than four octets");
    if (buf.size() < 2 + n) return std::optional<std::size_t>{};
    length = 0;
    for (std::size_t i = 0; i < n; ++i) length = (length << 8) | static_cast<unsigned char>(buf[2 + i]);
    header += n;
  }
  if (length > max) {
    return fail(Errc::ReplyTooLong, Fault::Peer, fmt::format("BER element of {} bytes exceeds {}", length, max));
  }
  return std::optional<std::size_t>{header + length};
}

Result<ExtendedResponse> parse_extended_response(std::string_view message) {
  Reader top{message};
  auto msg = top.next();
  if (!msg) return unexpected<Error>(msg.error());
  if (msg->first != tag_sequence) return fail(Errc::Malformed, Fault::Peer, "LDAPMessage is not a SEQUENCE");
  Reader body{msg->second};
  auto id = body.next();
  if (!id) return unexpected<Error>(id.error());
  if (id->first != tag_integer) return fail(Errc::Malformed, Fault::Peer, "LDAPMessage without messageID");
  ExtendedResponse r;
  auto mid = small_int(id->second);
  if (!mid) return unexpected<Error>(mid.error());
  r.message_id = *mid;
  auto op = body.next();
  if (!op) return unexpected<Error>(op.error());
  if (op->first != tag_extended_response) {
    return fail(Errc::Malformed, Fault::Peer, fmt::format("expected an ExtendedResponse, got tag 0x{:02x}", op->first));
  }
  Reader fields{op->second};
  auto code = fields.next();
  if (!code || code->first != tag_enumerated) return fail(Errc::Malformed, Fault::Peer, "ExtendedResponse without resultCode");
  auto rc = small_int(code->second);
  if (!rc) return unexpected<Error>(rc.error());
  r.result_code = *rc;
  auto dn = fields.next();
  if (!dn || dn->first != tag_octets) return fail(Errc::Malformed, Fault::Peer, "ExtendedResponse without matchedDN");
  auto diag = fields.next();
  if (!diag || diag->first != tag_octets) {
    return fail(Errc::Malformed, Fault::Peer, "ExtendedResponse without diagnosticMessage");
  }
  r.diagnostic = proto::printable(diag->second);
  while (!fields.in.empty()) {
    auto extra = fields.next();
    if (!extra) return unexpected<Error>(extra.error());
    if (extra->first == tag_response_name) r.response_name = std::string(extra->second);
  }
  return r;
}

proto::Step Client::fail(Errc code, std::string detail) {
  done_ = true;
  return proto::Fail{Error{code, Fault::Peer, std::move(detail)}};
}

proto::Step Client::start() {
  if (params_.implicit_tls) return proto::ReadBytes{};  // the driver handshakes first
  if (params_.upgrade == proto::Upgrade::Never) return proto::Close{};
  facts_.starttls_sent = true;
  return proto::Send{starttls_request(1), 2};
}

proto::Step Client::on_bytes(std::string_view bytes) {
  if (done_) return fail(Errc::Malformed, "bytes after the dialogue ended");
  buf_.append(bytes);
  auto size = element_size(buf_, params_.limits.max_reply_bytes);
  if (!size) {
    done_ = true;
    return proto::Fail{size.error()};
  }
  if (!*size) {  // the header is incomplete: ask for exactly the missing header bytes
    const std::size_t header = buf_.size() < 2 ? 2 : 2 + (static_cast<unsigned char>(buf_[1]) & 0x7f);
    return proto::ReadBytes{header - buf_.size()};
  }
  if (buf_.size() < **size) return proto::ReadBytes{**size - buf_.size()};
  auto r = parse_extended_response(std::string_view(buf_).substr(0, **size));
  if (!r) {
    done_ = true;
    return proto::Fail{r.error()};
  }
  done_ = true;
  if (r->message_id == 0 && r->response_name == notice_of_disconnection_oid) {
    return proto::Fail{Error{Errc::Closed, Fault::Peer, fmt::format("notice of disconnection: {}", r->diagnostic)}};
  }
  if (r->message_id != 1) return fail(Errc::Malformed, fmt::format("response to message {}, not 1", r->message_id));
  if (r->result_code == 0) {
    facts_.starttls_accepted = true;
    return proto::StartTls{};
  }
  // RFC 4511 §4.14.2: e.g. protocolError(2), unavailable(52) — no handshake after a refusal.
  facts_.refusal = fmt::format("resultCode {}{}", r->result_code, r->diagnostic.empty() ? "" : ": " + r->diagnostic);
  return proto::Close{unbind_request(2)};
}

proto::Step Client::on_tls_established() {
  facts_.tls_established = true;
  done_ = true;
  return proto::Close{unbind_request(2)};
}

}  // namespace ostls::ldap
