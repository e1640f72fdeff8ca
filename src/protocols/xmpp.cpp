#include "protocols/xmpp.hpp"

#include <expat.h>

#include <fmt/format.h>

#include "protocols/text.hpp"

namespace ostls::xmpp {
namespace {

constexpr std::size_t max_depth = 16;
constexpr std::size_t read_chunk = 4096;

// "ns|local" (expat's namespace-expanded name) → {ns, local}
std::pair<std::string_view, std::string_view> split(std::string_view name) {
  const auto bar = name.rfind('|');
  if (bar == std::string_view::npos) return {{}, name};
  return {name.substr(0, bar), name.substr(bar + 1)};
}

}  // namespace

// What one stream has shown so far; filled by expat callbacks.
struct Client::Parser {
  XML_Parser xml = XML_ParserCreateNS(nullptr, '|');
  std::size_t depth = 0;
  bool header = false, features_done = false, in_starttls = false;
  bool starttls = false, required = false, required_outside = false;
  bool proceed = false, failure = false;
  std::string stream_error;
  std::vector<std::string> features;  // child element names of <stream:features>
  std::size_t max_features = 0;
  std::size_t end_of_answer = 0;  // byte index just past <proceed/> or <failure/>
  bool too_many = false, doctype = false, in_error = false;

  Parser() {
    // expat >= 2.6 may hold back small inputs waiting for more ("reparse deferral"); a stream
    // protocol must see every complete element as soon as its last byte arrives.
    XML_SetReparseDeferralEnabled(xml, XML_FALSE);
    XML_SetUserData(xml, this);
    XML_SetElementHandler(xml, &Parser::on_start, &Parser::on_end);
    XML_SetStartDoctypeDeclHandler(xml, [](void* self, const XML_Char*, const XML_Char*, const XML_Char*, int) {
      auto* p = static_cast<Parser*>(self);
      p->doctype = true;
      XML_StopParser(p->xml, XML_FALSE);
    });
  }
  ~Parser() { XML_ParserFree(xml); }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  static void on_start(void* self, const XML_Char* name, const XML_Char**) {
    auto* p = static_cast<Parser*>(self);
    const auto [ns, local] = split(name);
    ++p->depth;
    if (p->depth > max_depth) {
      p->too_many = true;
      XML_StopParser(p->xml, XML_FALSE);
      return;
    }
    if (p->depth == 1) {
      p->header = ns == ns_streams && local == "stream";
      return;
    }
    if (p->depth == 2 && ns == ns_streams && local == "error") {
      p->in_error = true;
      p->stream_error = "undefined-condition";
    }
    if (p->depth == 3 && p->in_error) p->stream_error = std::string(local);  // RFC 6120 §4.9.3
    if (p->depth == 3 && !p->features_done && !p->in_error) {  // a child of <stream:features>
      if (p->features.size() >= p->max_features) {
        p->too_many = true;
        XML_StopParser(p->xml, XML_FALSE);
        return;
      }
      p->features.emplace_back(local);
      if (ns == ns_tls && local == "starttls") {
        p->starttls = true;
        p->in_starttls = true;
      }
      if (local == "required") p->required_outside = true;
    }
    if (p->depth == 4 && p->in_starttls && local == "required") p->required = true;
  }

  static void on_end(void* self, const XML_Char* name) {
    auto* p = static_cast<Parser*>(self);
    const auto [ns, local] = split(name);
    if (p->depth == 3 && ns == ns_tls && local == "starttls") p->in_starttls = false;
    if (p->depth == 2 && ns == ns_streams && local == "features") p->features_done = true;
    if (p->depth == 2 && ns == ns_tls && (local == "proceed" || local == "failure")) {
      (local == "proceed" ? p->proceed : p->failure) = true;
      p->end_of_answer = static_cast<std::size_t>(XML_GetCurrentByteIndex(p->xml) + XML_GetCurrentByteCount(p->xml));
      XML_StopParser(p->xml, XML_FALSE);  // nothing after it may be read in plaintext (R10)
    }
    --p->depth;
  }
};

std::string stream_header(const ClientParams& p) {
  return fmt::format("<?xml version='1.0'?><stream:stream to='{}' version='1.0' xmlns='jabber:{}' "
                     "xmlns:stream='http://etherx.jabber.org/streams'>",
                     p.domain, p.server_to_server ? "server" : "client");
}

Client::Client(ClientParams params) : params_(std::move(params)), parser_(std::make_unique<Parser>()) {
  parser_->max_features = params_.limits.max_reply_lines;
}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

proto::Step Client::fail(Errc code, std::string detail) {
  state_ = State::Done;
  return proto::Fail{Error{code, Fault::Peer, std::move(detail)}};
}

proto::Step Client::read_more() const { return proto::ReadBytes{read_chunk}; }

proto::Step Client::start() {
  if (params_.implicit_tls) return read_more();  // the driver handshakes first
  return proto::Send{stream_header(params_), read_chunk};
}

proto::Step Client::on_tls_established() {
  facts_.tls_established = true;
  parser_ = std::make_unique<Parser>();  // RFC 6120 §5.4.3.3: a new stream, features forgotten
  parser_->max_features = params_.limits.max_reply_lines;
  fed_ = 0;
  state_ = State::FeaturesTls;
  return proto::Send{stream_header(params_), read_chunk};
}

proto::Step Client::after_features() {
  auto& p = *parser_;
  if (facts_.tls_established) {
    facts_.caps_tls = p.features;
    facts_.offered_after_tls = p.starttls;
    state_ = State::Done;
    return proto::Close{"</stream:stream>"};
  }
  facts_.caps_plain = p.features;
  facts_.starttls_offered = p.starttls;
  facts_.starttls_required = p.required;
  if (!p.starttls && p.required_outside) {
    facts_.events.push_back({EventType::StarttlsStripped,
                             "stream features keep <required/> without <starttls/>: the offer was removed on the way"});
  }
  const bool go = params_.upgrade == proto::Upgrade::Always || (params_.upgrade == proto::Upgrade::IfOffered && p.starttls);
  if (!go) {
    state_ = State::Done;
    return proto::Close{"</stream:stream>"};
  }
  facts_.starttls_sent = true;
  state_ = State::Starttls;
  return proto::Send{fmt::format("<starttls xmlns='{}'/>", ns_tls), read_chunk};
}

proto::Step Client::on_bytes(std::string_view bytes) {
  if (state_ == State::Done) return fail(Errc::Malformed, "bytes after the dialogue ended");
  auto& p = *parser_;
  if (fed_ + bytes.size() > params_.limits.max_reply_bytes) {
    return fail(Errc::ReplyTooLong, fmt::format("more than {} bytes before the stream features ended",
                                                params_.limits.max_reply_bytes));
  }
  const auto before = fed_;
  fed_ += bytes.size();
  const auto status = XML_Parse(p.xml, bytes.data(), static_cast<int>(bytes.size()), XML_FALSE);
  if (p.doctype) return fail(Errc::Malformed, "XML document type declaration in an XMPP stream (RFC 6120 §11.1)");
  if (p.too_many) return fail(Errc::ReplyTooLong, "stream features too deep or too many");
  if (status == XML_STATUS_ERROR && !p.proceed && !p.failure) {
    return fail(Errc::Malformed, fmt::format("XML error: {}", XML_ErrorString(XML_GetErrorCode(p.xml))));
  }
  if (!p.stream_error.empty()) return fail(Errc::Rejected, fmt::format("stream error: {}", p.stream_error));
  if (p.depth == 0 && p.header) return fail(Errc::Closed, "the server closed the stream");
  switch (state_) {
    case State::Features:
    case State::FeaturesTls:
      if (p.depth >= 1 && !p.header) return fail(Errc::Malformed, "not an XMPP stream");
      return p.features_done ? after_features() : read_more();
    case State::Starttls:
      if (p.proceed) {
        facts_.starttls_accepted = true;
        if (p.end_of_answer < fed_ && p.end_of_answer >= before) {
          const auto extra = fed_ - p.end_of_answer;
          facts_.events.push_back(
              {EventType::ResponseInjection,
               fmt::format("discarded {} plaintext bytes pipelined behind <proceed/>: \"{}\"", extra,
                           proto::printable(bytes.substr(p.end_of_answer - before)))});
        }
        state_ = State::Done;
        return proto::StartTls{};
      }
      if (p.failure) {
        facts_.refusal = "<failure/>";
        state_ = State::Done;
        // RFC 6120 §5.4.2.2: the server closes the stream; with <required/> there is no cleartext.
        if (facts_.starttls_required.value_or(false)) {
          return proto::Fail{Error{Errc::Rejected, Fault::Peer, "STARTTLS refused although the server requires it"}};
        }
        return proto::Close{"</stream:stream>"};
      }
      return read_more();
    case State::Done:
      break;
  }
  return fail(Errc::Malformed, "bytes after the dialogue ended");
}

}  // namespace ostls::xmpp
