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
    // RFC 6120 §4.9.2-3: the condition is the child in the streams-error namespace other than
    // <text/>, which only describes it (and may come first).
    if (p->depth == 3 && p->in_error && ns == "urn:ietf:params:xml:ns:xmpp-streams" && local != "text" &&
        p->stream_error == "undefined-condition") {
      p->stream_error = std::string(local);
    }
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

// ---- Server role ------------------------------------------------------------------------------

namespace {

constexpr std::string_view ns_stream_errors = "urn:ietf:params:xml:ns:xmpp-streams";

// "ns|local|prefix" (expat with namespace triplets) → its parts; absent parts are empty.
struct QName {
  std::string ns, local, prefix;
};
QName triplet(std::string_view name) {
  QName q;
  const auto first = name.find('|');
  if (first == std::string_view::npos) {
    q.local = name;
    return q;
  }
  q.ns = name.substr(0, first);
  const auto rest = name.substr(first + 1);
  const auto second = rest.find('|');
  q.local = rest.substr(0, second);
  if (second != std::string_view::npos) q.prefix = rest.substr(second + 1);
  return q;
}

std::string qualified(std::string_view prefix, std::string_view local) {
  return prefix.empty() ? std::string(local) : fmt::format("{}:{}", prefix, local);
}

}  // namespace

// What one side's pre-TLS stream has shown: its header and its first top-level element (the
// backend's <stream:features>, the client's <starttls/> or whatever else it sends first), with
// byte offsets into everything fed so far, so that the bytes can be relayed (or cut) exactly.
struct Server::Reader {
  struct Element {
    QName name;
    std::size_t begin = 0, tag_end = 0, end = 0;  // start of its start tag, end of it, end of the element
    bool complete = false;
  };

  XML_Parser xml = XML_ParserCreateNS(nullptr, '|');
  bool client_side = false;
  std::size_t max_elements = 0;
  std::size_t depth = 0, elements = 0;
  bool header = false;          // the stream header's start tag has been read
  QName stream;                 // its name: http://etherx.jabber.org/streams|stream|prefix
  std::string default_ns;       // the content namespace it declares (jabber:client, jabber:server)
  std::string version;          // its version attribute
  std::size_t header_end = 0;
  bool closed = false;          // the stream ended (</stream:stream>)
  std::optional<Element> top;   // the first child of the stream
  bool starttls_child = false;  // <starttls xmlns='…xmpp-tls'> inside that first child
  bool doctype = false, too_big = false, stopped = false;
  std::string error;            // expat's error, if the bytes were not well-formed XML

  Reader() {
    XML_SetReparseDeferralEnabled(xml, XML_FALSE);  // every complete element at once (see Client)
    XML_SetReturnNSTriplet(xml, XML_TRUE);          // prefixes, to write matching tags
    XML_SetUserData(xml, this);
    XML_SetElementHandler(xml, &Reader::on_start, &Reader::on_end);
    XML_SetStartNamespaceDeclHandler(xml, [](void* self, const XML_Char* prefix, const XML_Char* uri) {
      auto* r = static_cast<Reader*>(self);
      if (r->depth == 0 && prefix == nullptr) r->default_ns = uri == nullptr ? "" : uri;
    });
    XML_SetStartDoctypeDeclHandler(xml, [](void* self, const XML_Char*, const XML_Char*, const XML_Char*, int) {
      auto* r = static_cast<Reader*>(self);
      r->doctype = true;
      r->stop();
    });
  }
  ~Reader() { XML_ParserFree(xml); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  void stop() {
    stopped = true;
    XML_StopParser(xml, XML_FALSE);
  }
  [[nodiscard]] std::size_t here() const { return static_cast<std::size_t>(XML_GetCurrentByteIndex(xml)); }
  [[nodiscard]] std::size_t here_end() const { return here() + static_cast<std::size_t>(XML_GetCurrentByteCount(xml)); }

  // Feeds the next bytes; afterwards the fields above tell what is known.
  void feed(std::string_view bytes) {
    if (stopped) return;
    const auto status = XML_Parse(xml, bytes.data(), static_cast<int>(bytes.size()), XML_FALSE);
    if (status == XML_STATUS_ERROR && !stopped) error = XML_ErrorString(XML_GetErrorCode(xml));
  }

  static void on_start(void* self, const XML_Char* name, const XML_Char** attrs) {
    auto* r = static_cast<Reader*>(self);
    ++r->depth;
    if (r->depth > max_depth || ++r->elements > r->max_elements) {
      r->too_big = true;
      r->stop();
      return;
    }
    if (r->depth == 1) {
      r->header = true;
      r->stream = triplet(name);
      for (auto a = attrs; a[0] != nullptr; a += 2) {
        if (std::string_view(a[0]) == "version") r->version = a[1];
      }
      r->header_end = r->here_end();
      return;
    }
    if (r->depth == 2 && !r->top) {
      r->top = Element{triplet(name), r->here(), r->here_end(), 0, false};
      // A client's first element other than <starttls/> is decided on its start tag: the rest is
      // relayed unread (or refused), never held to our bounds.
      if (r->client_side && !(r->top->name.ns == ns_tls && r->top->name.local == "starttls")) r->stop();
      return;
    }
    if (r->depth == 3 && r->top && !r->top->complete) {
      const auto child = triplet(name);
      if (child.ns == ns_tls && child.local == "starttls") r->starttls_child = true;
    }
  }

  static void on_end(void* self, const XML_Char*) {
    auto* r = static_cast<Reader*>(self);
    if (r->depth == 2 && r->top && !r->top->complete) {
      r->top->complete = true;
      // An empty-element tag has no end tag of its own: expat reports it with no bytes.
      r->top->end = XML_GetCurrentByteCount(r->xml) == 0 ? r->top->tag_end : r->here_end();
      r->stop();  // all this side's pre-TLS stream can tell us; the rest is relayed or discarded
    }
    if (r->depth == 1) r->closed = true;
    --r->depth;
  }
};

Server::Server(ServerParams params)
    : params_(std::move(params)), client_(std::make_unique<Reader>()), backend_(std::make_unique<Reader>()) {
  client_->client_side = true;
  client_->max_elements = params_.common.limits.max_reply_lines;
  backend_->max_elements = params_.common.limits.max_reply_lines;
}
Server::~Server() = default;
Server::Server(Server&&) noexcept = default;
Server& Server::operator=(Server&&) noexcept = default;

namespace {

proto::Action act(std::string to_backend, std::string to_client, proto::Next next) {
  const bool reads = next == proto::Next::ReadClient || next == proto::Next::ReadBackend;
  return {std::move(to_backend), std::move(to_client), next, reads ? read_chunk : 0, std::nullopt};
}

// RFC 6120 §4.9: a stream error closes the stream; `prefix` is the one the stream was opened with.
std::string stream_error(std::string_view prefix, std::string_view condition) {
  const auto error = qualified(prefix, "error");
  const auto stream = qualified(prefix, "stream");
  if (prefix.empty()) {
    return fmt::format("<error xmlns='{}'><{} xmlns='{}'/></error></{}>", ns_streams, condition, ns_stream_errors,
                       stream);
  }
  return fmt::format("<{}><{} xmlns='{}'/></{}></{}>", error, condition, ns_stream_errors, error, stream);
}

}  // namespace

proto::Action Server::start() { return act({}, {}, proto::Next::ReadClient); }

// The client's fault. §4.9.1.2: a stream error before our side of the stream is open comes with
// a stream header of our own; later the backend's header has been relayed and its prefix is used.
proto::Action Server::client_fault(Errc code, std::string_view condition, std::string detail) {
  std::string to_client;
  if (state_ == State::ClientHeader || state_ == State::BackendFeatures) {
    to_client = fmt::format("<?xml version='1.0'?><stream:stream xmlns='jabber:{}' xmlns:stream='{}' version='1.0'>",
                            params_.server_to_server ? "server" : "client", ns_streams);
    to_client += stream_error("stream", condition);
  } else {
    to_client = stream_error(backend_->stream.prefix, condition);
  }
  state_ = State::Done;
  auto a = proto::serve_fail(code, Fault::Peer, fmt::format("client: {}", detail));
  a.to_client = std::move(to_client);
  return a;
}

// The backend's fault, while nothing of its stream has reached the client yet.
proto::Action Server::backend_fault(Errc code, std::string detail) {
  auto a = client_fault(code, "internal-server-error", {});
  a.error = Error{code, Fault::Peer, fmt::format("backend: {}", detail)};
  return a;
}

proto::Action Server::on_client_bytes(std::string_view bytes) {
  if (state_ != State::ClientHeader && state_ != State::ClientElement) {
    return proto::serve_fail(Errc::Malformed, Fault::Local, "client bytes out of turn");
  }
  const auto& limits = params_.common.limits;
  if (client_bytes_.size() + bytes.size() > limits.max_reply_bytes) {
    return client_fault(Errc::ReplyTooLong, "policy-violation",
                        fmt::format("more than {} bytes before <starttls/>", limits.max_reply_bytes));
  }
  client_bytes_ += bytes;
  client_->feed(bytes);
  if (client_->doctype) return client_fault(Errc::Malformed, "restricted-xml", "a DTD (RFC 6120 §11.1)");
  if (client_->too_big) return client_fault(Errc::ReplyTooLong, "policy-violation", "elements too deep or too many");
  if (state_ == State::ClientElement) return decide();
  if (!client_->header) {
    if (!client_->error.empty()) {
      return client_fault(Errc::Malformed, "not-well-formed", fmt::format("XML error: {}", client_->error));
    }
    return act({}, {}, proto::Next::ReadClient);
  }
  // RFC 6120 §4.9.3.10: the streams namespace and the content namespace this port serves.
  const auto content = params_.server_to_server ? "jabber:server" : "jabber:client";
  if (client_->stream.ns != ns_streams || client_->stream.local != "stream" || client_->default_ns != content) {
    return client_fault(Errc::Malformed, "invalid-namespace",
                        fmt::format("stream <{}> in namespace '{}', content namespace '{}' (expected {})",
                                    proto::printable(client_->stream.local), proto::printable(client_->stream.ns),
                                    proto::printable(client_->default_ns), content));
  }
  forwarded_ = client_->header_end;
  state_ = State::BackendFeatures;
  return act(client_bytes_.substr(0, forwarded_), {}, proto::Next::ReadBackend);
}

proto::Action Server::on_backend_bytes(std::string_view bytes) {
  if (state_ != State::BackendFeatures) {
    return proto::serve_fail(Errc::Malformed, Fault::Local, "backend bytes out of turn");
  }
  const auto& limits = params_.common.limits;
  if (backend_bytes_.size() + bytes.size() > limits.max_reply_bytes) {
    return backend_fault(Errc::ReplyTooLong, fmt::format("more than {} bytes before the stream features ended",
                                                         limits.max_reply_bytes));
  }
  backend_bytes_ += bytes;
  auto& b = *backend_;
  b.feed(bytes);
  if (b.doctype) return backend_fault(Errc::Malformed, "a DTD in its stream (RFC 6120 §11.1)");
  if (b.too_big) return backend_fault(Errc::ReplyTooLong, "stream features too deep or too many");
  if (b.header && (b.stream.ns != ns_streams || b.stream.local != "stream")) {
    return backend_fault(Errc::Malformed, "not an XMPP stream");
  }
  if (b.header && b.version.empty()) {
    // A pre-1.0 server (RFC 6120 §4.7.5) sends no features, so there is nothing to add the offer
    // to: the session goes on in cleartext.
    state_ = State::Done;
    facts_.relayed_cleartext = true;
    return act(client_bytes_.substr(forwarded_), std::move(backend_bytes_), proto::Next::Relay);
  }
  if (b.top) {
    if (b.top->name.ns == ns_streams && b.top->name.local == "features") {
      if (b.top->complete) return after_features();
    } else if (b.top->name.ns == ns_streams && b.top->name.local == "error") {
      // The backend turns the stream away (host-unknown, …): the client hears it from the backend.
      state_ = State::Done;
      return act(client_bytes_.substr(forwarded_), std::move(backend_bytes_), proto::Next::Relay);
    } else {
      return backend_fault(Errc::Malformed, fmt::format("<{}> instead of the stream features",
                                                        proto::printable(b.top->name.local)));
    }
  } else if (b.closed) {
    state_ = State::Done;
    return act(client_bytes_.substr(forwarded_), std::move(backend_bytes_), proto::Next::Relay);
  }
  if (!b.error.empty()) return backend_fault(Errc::Malformed, fmt::format("XML error: {}", b.error));
  return act({}, {}, proto::Next::ReadBackend);
}

std::string Server::features_with_starttls() const {
  const auto& b = *backend_;
  const auto& features = *b.top;
  if (b.starttls_child) return backend_bytes_;  // the backend offers it itself: unchanged
  const std::string offer = params_.common.require_tls
                                ? fmt::format("<starttls xmlns='{}'><required/></starttls>", ns_tls)
                                : fmt::format("<starttls xmlns='{}'/>", ns_tls);
  const std::string_view all = backend_bytes_;
  auto tag = all.substr(features.begin, features.tag_end - features.begin);
  if (!tag.ends_with("/>")) {
    return fmt::format("{}{}{}", all.substr(0, features.tag_end), offer, all.substr(features.tag_end));
  }
  // <stream:features/>: opened, the offer, closed.
  tag.remove_suffix(2);
  while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t' || tag.back() == '\r' || tag.back() == '\n')) {
    tag.remove_suffix(1);
  }
  return fmt::format("{}{}>{}</{}>{}", all.substr(0, features.begin), tag, offer,
                     qualified(features.name.prefix, "features"), all.substr(features.tag_end));
}

proto::Action Server::after_features() {
  auto features = features_with_starttls();
  backend_bytes_.clear();
  state_ = State::ClientElement;
  auto a = decide();  // the client may have sent its first element already
  a.to_client = features + a.to_client;
  return a;
}

proto::Action Server::decide() {
  auto& c = *client_;
  if (c.top && c.top->name.ns == ns_tls && c.top->name.local == "starttls") {
    if (!c.top->complete) {
      if (!c.error.empty()) {
        return client_fault(Errc::Malformed, "not-well-formed", fmt::format("XML error: {}", c.error));
      }
      return act({}, {}, proto::Next::ReadClient);
    }
    facts_.upgrade_requested = true;
    // R10: nothing the client sent behind <starttls/> is read before the handshake.
    if (c.top->end < client_bytes_.size()) {
      const auto behind = std::string_view(client_bytes_).substr(c.top->end);
      facts_.events.push_back({EventType::CommandInjection,
                               fmt::format("{} bytes pipelined behind <starttls/>, discarded: \"{}\"", behind.size(),
                                           proto::excerpt(behind))});
    }
    client_bytes_.clear();
    state_ = State::Upgrading;
    return act({}, fmt::format("<proceed xmlns='{}'/>", ns_tls), proto::Next::StartTls);
  }
  if (c.top) {
    if (params_.common.require_tls) {
      // RFC 6120 §5.3.1: TLS is mandatory-to-negotiate here; nothing else is done first.
      state_ = State::Done;
      return act(fmt::format("</{}>", qualified(c.stream.prefix, "stream")),
                 stream_error(backend_->stream.prefix, "policy-violation"), proto::Next::Close);
    }
    state_ = State::Done;
    facts_.relayed_cleartext = true;
    return act(client_bytes_.substr(forwarded_), {}, proto::Next::Relay);
  }
  if (c.closed) {  // the client ends its stream: the backend answers and closes
    state_ = State::Done;
    return act(client_bytes_.substr(forwarded_), {}, proto::Next::Relay);
  }
  if (!c.error.empty()) return client_fault(Errc::Malformed, "not-well-formed", fmt::format("XML error: {}", c.error));
  return act({}, {}, proto::Next::ReadClient);
}

proto::Action Server::on_tls_established() {
  if (state_ != State::Upgrading) return proto::serve_fail(Errc::Malformed, Fault::Local, "TLS without <starttls/>");
  facts_.tls_established = true;
  // RFC 6120 §5.4.3.3: the client opens a new stream now; the backend's old one cannot be
  // restarted, so it is closed and a fresh connection takes the new stream.
  state_ = State::Reconnecting;
  return act(fmt::format("</{}>", qualified(client_->stream.prefix, "stream")), {}, proto::Next::ConnectBackend);
}

proto::Action Server::on_backend_connected() {
  if (state_ != State::Reconnecting) {
    return proto::serve_fail(Errc::Malformed, Fault::Local, "backend reconnected out of turn");
  }
  state_ = State::Done;
  return act({}, {}, proto::Next::Relay);
}

}  // namespace ostls::xmpp
