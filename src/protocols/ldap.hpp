// LDAP StartTLS client (RFC 4511 §4.14, RFC 4513 §3): an ExtendedRequest with requestName
// 1.3.6.1.4.1.1466.20037; the ExtendedResponse's resultCode 0 = go ahead. Bytes pipelined
// behind the response are injection (R10: the only evidence for LDAP). After the handshake (or a
// refusal) the client sends an UnbindRequest and closes. Implicit TLS: ldaps (636).
// Server (in front of a plaintext backend): LDAP has no greeting, so the machine reads the
// client's first LDAPMessage (whole, bounded by limits.max_reply_bytes); a StartTLS request is
// answered here (ExtendedResponse, success, responseName the StartTLS OID) → [TLS] → relay. Any
// other first message is forwarded and the session continues in cleartext; with require_tls it
// gets its operation's response with confidentialityRequired (13) instead (no response for
// Abandon; Unbind closes) and the next message is read. A message too large for the limit
// cannot be a StartTLS request: forwarded (require_tls: the session ends). Malformed BER gets
// a Notice of Disconnection (protocolError). Does not: read or rewrite the backend's root DSE
// (supportedExtension is relayed as the backend lists it).
// BER: a small bounded reader of our own for exactly the PDUs we receive (an ExtendedResponse
// or a Notice of Disconnection in the client; the envelope, messageID, operation tag and
// requestName of a request in the server) — libldap would bring its own TLS stack and
// blocking I/O, which ostls needs to own. No rootDSE read: starttls_offered stays null.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/limits.hpp"
#include "protocols/protocol.hpp"
#include "protocols/server.hpp"

namespace ostls::ldap {

inline constexpr std::string_view starttls_oid = "1.3.6.1.4.1.1466.20037";
inline constexpr std::string_view notice_of_disconnection_oid = "1.3.6.1.4.1.1466.20036";

struct ClientParams {
  bool implicit_tls = false;
  proto::Upgrade upgrade = proto::Upgrade::IfOffered;
  Limits limits;
};

[[nodiscard]] std::string starttls_request(int message_id);
[[nodiscard]] std::string unbind_request(int message_id);

// RFC 4511 §4.1.9 resultCodes the server role sends.
inline constexpr int result_success = 0, result_protocol_error = 2, result_confidentiality_required = 13;

// An ExtendedResponse (RFC 4511 §4.12); `response_name` omitted when empty.
[[nodiscard]] std::string extended_response(int message_id, int result_code, std::string_view diagnostic,
                                            std::string_view response_name = {});
// The Notice of Disconnection (RFC 4511 §4.4.1): messageID 0, responseName ...20036.
[[nodiscard]] std::string notice_of_disconnection(int result_code, std::string_view diagnostic);

struct ExtendedResponse {
  int message_id = 0;
  int result_code = -1;
  std::string diagnostic;
  std::string response_name;  // OID, empty if absent
};

// How many bytes the BER element at the start of `buf` needs in total, or nullopt if its header
// is not complete yet. Errors: indefinite or over-long lengths, more than `max` bytes.
[[nodiscard]] Result<std::optional<std::size_t>> element_size(std::string_view buf, std::size_t max);
// Parses one complete LDAPMessage carrying an ExtendedResponse.
[[nodiscard]] Result<ExtendedResponse> parse_extended_response(std::string_view message);

// What the server role needs of a client's LDAPMessage: its messageID (1..2^31-1; 0 is
// reserved for notices, RFC 4511 §4.1.1.1), the protocolOp's tag, and for an ExtendedRequest
// its requestName. The rest of the operation and any controls are not interpreted.
struct Request {
  int message_id = 0;
  unsigned char operation = 0;  // BER tag, e.g. 0x60 BindRequest, 0x77 ExtendedRequest
  std::string request_name;     // ExtendedRequest only
};
[[nodiscard]] Result<Request> parse_request(std::string_view message);
// The response a request gets when refused with `result_code`: an LDAPResult of the matching
// response type (ExtendedResponse for extended operations); nullopt for operations without a
// response (Abandon, Unbind) and for unknown operations.
[[nodiscard]] std::optional<std::string> refusal(const Request& request, int result_code, std::string_view diagnostic);

class Client {
public:
  explicit Client(ClientParams params) : params_(std::move(params)) {}
  [[nodiscard]] proto::Step start();
  [[nodiscard]] proto::Step on_bytes(std::string_view bytes);
  [[nodiscard]] proto::Step on_tls_established();
  [[nodiscard]] const proto::Facts& facts() const { return facts_; }

private:
  proto::Step fail(Errc code, std::string detail);

  ClientParams params_;
  std::string buf_;
  bool done_ = false;
  proto::Facts facts_;
};

class Server {
public:
  explicit Server(proto::ServerParams params) : params_(std::move(params)) {}

  [[nodiscard]] proto::Action start();  // read the client's first message: LDAP has no greeting
  [[nodiscard]] proto::Action on_client_bytes(std::string_view bytes);
  [[nodiscard]] proto::Action on_backend_bytes(std::string_view bytes);  // never asked for: fails closed
  [[nodiscard]] proto::Action on_tls_established();

  [[nodiscard]] const proto::ServerFacts& facts() const { return facts_; }

private:
  enum class State : std::uint8_t { Request, Done };

  proto::Action read(std::size_t n);
  proto::Action on_message(std::string_view message);
  proto::Action disconnect(std::string detail);

  proto::ServerParams params_;
  State state_ = State::Request;
  std::string buf_;       // the message being read (at most limits.max_reply_bytes)
  std::size_t want_ = 0;  // bytes asked of the driver: never more are accepted (R10)
  proto::ServerFacts facts_;
};

}  // namespace ostls::ldap
