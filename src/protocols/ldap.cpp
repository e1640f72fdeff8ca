#include "protocols/ldap.hpp"

#include <limits>
#include <utility>

#include <fmt/format.h>

#include "protocols/text.hpp"

namespace ostls::ldap {
namespace {

constexpr unsigned char tag_sequence = 0x30, tag_integer = 0x02, tag_enumerated = 0x0a, tag_octets = 0x04;
constexpr unsigned char tag_extended_request = 0x77;   // [APPLICATION 23] constructed
constexpr unsigned char tag_extended_response = 0x78;  // [APPLICATION 24] constructed
constexpr unsigned char tag_request_name = 0x80;       // [0] primitive
constexpr unsigned char tag_response_name = 0x8a;     // [10] primitive
constexpr unsigned char tag_unbind_request = 0x42;     // [APPLICATION 2] primitive (NULL)
constexpr unsigned char tag_abandon_request = 0x50;    // [APPLICATION 16] primitive (MessageID)

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

// X.690 §8.3: big-endian two's complement, minimal; a leading 0x00 keeps large values positive.
std::string integer_content(int v) {
  auto u = static_cast<std::uint32_t>(v < 0 ? 0 : v);
  std::string out;
  do {
    out.insert(out.begin(), static_cast<char>(u & 0xff));
    u >>= 8;
  } while (u != 0);
  if (static_cast<unsigned char>(out.front()) & 0x80) out.insert(out.begin(), '\0');
  return out;
}

std::string integer(int v) { return tlv(tag_integer, integer_content(v)); }

// LDAPResult (RFC 4511 §4.1.9): resultCode, matchedDN "", diagnosticMessage.
std::string ldap_result(int result_code, std::string_view diagnostic) {
  return tlv(tag_enumerated, integer_content(result_code)) + tlv(tag_octets, "") + tlv(tag_octets, diagnostic);
}

// A cursor over BER elements inside one constructed value.
struct Reader {
  std::string_view in;
  Result<std::pair<unsigned char, std::string_view>> next() {
    if (!in.empty() && (static_cast<unsigned char>(in[0]) & 0x1f) == 0x1f) {
      return fail(Errc::Malformed, Fault::Peer, "multi-octet BER tag (LDAP uses none)");
    }
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

std::string extended_response(int id, int result_code, std::string_view diagnostic, std::string_view response_name) {
  auto fields = ldap_result(result_code, diagnostic);
  if (!response_name.empty()) fields += tlv(tag_response_name, response_name);
  return tlv(tag_sequence, integer(id) + tlv(tag_extended_response, fields));
}

std::string notice_of_disconnection(int result_code, std::string_view diagnostic) {
  return extended_response(0, result_code, diagnostic, notice_of_disconnection_oid);
}

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

Result<Request> parse_request(std::string_view message) {
  Reader top{message};
  auto msg = top.next();
  if (!msg) return unexpected<Error>(msg.error());
  if (msg->first != tag_sequence) return fail(Errc::Malformed, Fault::Peer, "LDAPMessage is not a SEQUENCE");
  if (!top.in.empty()) return fail(Errc::Malformed, Fault::Peer, "bytes behind the LDAPMessage");
  Reader body{msg->second};
  auto id = body.next();
  if (!id) return unexpected<Error>(id.error());
  if (id->first != tag_integer) return fail(Errc::Malformed, Fault::Peer, "LDAPMessage without messageID");
  auto mid = small_int(id->second);
  if (!mid) return unexpected<Error>(mid.error());
  if (*mid <= 0) return fail(Errc::Malformed, Fault::Peer, fmt::format("request with messageID {}", *mid));
  auto op = body.next();
  if (!op) return unexpected<Error>(op.error());
  Request r{*mid, op->first, {}};
  if (r.operation == tag_extended_request) {
    Reader fields{op->second};
    auto name = fields.next();
    if (!name || name->first != tag_request_name) {
      return fail(Errc::Malformed, Fault::Peer, "ExtendedRequest without requestName");
    }
    r.request_name = std::string(name->second);
  }
  return r;
}

std::optional<std::string> refusal(const Request& request, int result_code, std::string_view diagnostic) {
  // RFC 4511 §4.2–§4.12: each request's response is its own tag + 1 (constructed), except
  // DelRequest (primitive [APPLICATION 10] → [APPLICATION 11] constructed) and the extended
  // operation, whose response is an ExtendedResponse.
  unsigned char response = 0;
  switch (request.operation) {
    case 0x60: response = 0x61; break;  // Bind
    case 0x63: response = 0x65; break;  // Search → SearchResultDone
    case 0x66: response = 0x67; break;  // Modify
    case 0x68: response = 0x69; break;  // Add
    case 0x4a: response = 0x6b; break;  // Del
    case 0x6c: response = 0x6d; break;  // ModifyDN
    case 0x6e: response = 0x6f; break;  // Compare
    case tag_extended_request: return extended_response(request.message_id, result_code, diagnostic);
    default: return std::nullopt;  // Unbind, Abandon: no response; anything else: unknown
  }
  return tlv(tag_sequence, integer(request.message_id) + tlv(response, ldap_result(result_code, diagnostic)));
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

// ---- server role ----------------------------------------------------------------------------

proto::Action Server::read(std::size_t n) {
  want_ = n;
  return {{}, {}, proto::Next::ReadClient, n, std::nullopt};
}

proto::Action Server::start() {
  if (state_ != State::Request || !buf_.empty() || want_ != 0) {
    return proto::serve_fail(Errc::Malformed, Fault::Local, "start() called twice");
  }
  return read(2);  // tag and first length octet
}

proto::Action Server::disconnect(std::string detail) {
  // RFC 4511 §4.1.1: a PDU that cannot be parsed gets a Notice of Disconnection, then the end.
  state_ = State::Done;
  auto a = proto::serve_fail(Errc::Malformed, Fault::Peer, fmt::format("client: {}", detail));
  a.to_client = notice_of_disconnection(result_protocol_error, "malformed LDAPMessage");
  return a;
}

proto::Action Server::on_client_bytes(std::string_view bytes) {
  if (state_ != State::Request) return proto::serve_fail(Errc::Malformed, Fault::Local, "client bytes out of turn");
  // Exactly what was asked for, never more: bytes behind the StartTLS request must stay in the
  // driver's buffer, where the R10 check finds and discards them.
  if (bytes.empty() || bytes.size() > want_) {
    return proto::serve_fail(Errc::Malformed, Fault::Local,
                             fmt::format("{} client bytes, {} asked for", bytes.size(), want_));
  }
  buf_.append(bytes);
  if (static_cast<unsigned char>(buf_[0]) != tag_sequence) return disconnect("not an LDAPMessage");
  auto size = element_size(buf_, std::numeric_limits<std::uint32_t>::max());
  if (!size) return disconnect(size.error().detail);
  if (!*size) {  // the tag, the first length octet or the further length octets are missing
    if (buf_.size() < 2) return read(2 - buf_.size());
    return read(2 + (static_cast<unsigned char>(buf_[1]) & 0x7f) - buf_.size());
  }
  const std::size_t total = **size;
  if (total > params_.limits.max_reply_bytes) {
    // A StartTLS request is a few dozen bytes: this one is something else. Forwarded whole (the
    // relay copies what follows), or with require_tls the session ends.
    state_ = State::Done;
    if (params_.require_tls) {
      return proto::serve_fail(Errc::ReplyTooLong, Fault::Peer,
                               fmt::format("client: LDAPMessage of {} bytes before StartTLS exceeds {}", total,
                                           params_.limits.max_reply_bytes));
    }
    facts_.relayed_cleartext = true;
    return proto::to_backend(std::exchange(buf_, {}), proto::Next::Relay);
  }
  if (buf_.size() < total) return read(total - buf_.size());
  return on_message(std::exchange(buf_, {}));
}

proto::Action Server::on_message(std::string_view message) {
  auto request = parse_request(message);
  if (!request) return disconnect(request.error().detail);
  if (request->operation == tag_extended_request && request->request_name == starttls_oid) {
    // RFC 4511 §4.14.2: success, responseName the StartTLS OID; the handshake follows at once.
    facts_.upgrade_requested = true;
    state_ = State::Done;
    return proto::to_client(extended_response(request->message_id, result_success, "", starttls_oid),
                            proto::Next::StartTls);
  }
  if (!params_.require_tls) {
    state_ = State::Done;
    facts_.relayed_cleartext = true;
    return proto::to_backend(std::string(message), proto::Next::Relay);
  }
  // require_tls (RFC 4513 §3, RFC 4511 §4.1.9 confidentialityRequired): refused here, never
  // forwarded; the client may still send StartTLS.
  if (request->operation == tag_unbind_request) {
    state_ = State::Done;
    return {{}, {}, proto::Next::Close, 0, std::nullopt};
  }
  if (request->operation == tag_abandon_request) return read(2);  // nothing to abandon, no response
  auto response = refusal(*request, result_confidentiality_required,
                          fmt::format("TLS required: send StartTLS ({}) first", starttls_oid));
  if (!response) return disconnect(fmt::format("unknown LDAP operation (tag 0x{:02x})", request->operation));
  auto a = read(2);
  a.to_client = std::move(*response);
  return a;
}

proto::Action Server::on_backend_bytes(std::string_view) {
  // The backend is only ever relayed: before TLS it has nothing to say (no greeting).
  return proto::serve_fail(Errc::Malformed, Fault::Local, "backend bytes out of turn");
}

proto::Action Server::on_tls_established() {
  if (state_ != State::Done || !facts_.upgrade_requested || facts_.tls_established) {
    return proto::serve_fail(Errc::Malformed, Fault::Local, "TLS established out of turn");
  }
  facts_.tls_established = true;
  return {{}, {}, proto::Next::Relay, 0, std::nullopt};
}

}  // namespace ostls::ldap
