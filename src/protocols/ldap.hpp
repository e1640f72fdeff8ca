// LDAP StartTLS client (RFC 4511 §4.14, RFC 4513 §3): an ExtendedRequest with requestName
// 1.3.6.1.4.1.1466.20037; the ExtendedResponse's resultCode 0 = go ahead. Bytes pipelined
// behind the response are injection (R10: the only evidence for LDAP). After the handshake (or a
// refusal) the client sends an UnbindRequest and closes. Implicit TLS: ldaps (636).
// BER: a small bounded reader of our own for exactly the PDUs we receive (LDAPMessage with an
// ExtendedResponse or a Notice of Disconnection) — libldap would bring its own TLS stack and
// blocking I/O, which ostls needs to own. No rootDSE read: starttls_offered stays null.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/limits.hpp"
#include "protocols/protocol.hpp"

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

}  // namespace ostls::ldap
