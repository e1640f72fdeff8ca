#include "tls/resume.hpp"

#include <algorithm>
#include <ctime>
#include <memory>

#include "tls/handshake.hpp"

namespace ostls::tls {
namespace {

// What an armed SSL carries (its ex_data, freed with it).
struct Slot {
  SessionCache* cache;
  std::string key;
  std::optional<DaneFacts> inherited;  // of the session offered
};

void free_slot(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/, void* /*argp*/) {
  delete static_cast<Slot*>(ptr);
}

int slot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_slot);
  return index;
}

Slot* slot_of(SSL* ssl) { return static_cast<Slot*>(SSL_get_ex_data(ssl, slot_index())); }

// OpenSSL's new-session callback: 1 = the reference is ours now.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
  Slot* slot = slot_of(ssl);
  if (slot == nullptr || SSL_SESSION_is_resumable(session) != 1) return 0;
  // A resumed connection's new tickets continue the same verified handshake.
  std::optional<DaneFacts> dane = SSL_session_reused(ssl) == 1 ? slot->inherited : dane_facts(ssl);
  slot->cache->store(slot->key, session, std::move(dane));
  return 1;
}

bool usable(SSL_SESSION* s) {
  const auto now = static_cast<long>(std::time(nullptr));
  return SSL_SESSION_is_resumable(s) == 1 && SSL_SESSION_get_time(s) + SSL_SESSION_get_timeout(s) > now;
}

}  // namespace

void enable_client_resumption(SSL_CTX* ctx) {
  // The client "cache" is ours: OpenSSL keeps nothing itself and hands every new session to
  // on_new_session, which keeps only those of armed SSLs.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, on_new_session);
}

SessionCache::SessionCache(std::size_t capacity, std::size_t per_key)
    : capacity_(std::max<std::size_t>(1, capacity)), per_key_(std::max<std::size_t>(1, per_key)) {}

SessionCache::~SessionCache() {
  for (auto& [key, e] : entries_) drop(e);
}

void SessionCache::drop(Entry& e) {
  for (auto& s : e.sessions) SSL_SESSION_free(s.session);
  e.sessions.clear();
}

bool SessionCache::arm(SSL* ssl, std::string key) {
  auto slot = std::make_unique<Slot>(Slot{.cache = this, .key = std::move(key), .inherited = std::nullopt});
  SSL_SESSION* offer = nullptr;
  {
    const std::lock_guard lock(mutex_);
    const auto it = entries_.find(slot->key);
    if (it != entries_.end()) {
      auto& list = it->second.sessions;
      std::erase_if(list, [](const Saved& s) {
        if (usable(s.session)) return false;
        SSL_SESSION_free(s.session);
        return true;
      });
      if (!list.empty()) {
        // The newest one, kept for the next connection too (see resume.hpp on ticket reuse).
        const Saved& saved = list.back();
        SSL_SESSION_up_ref(saved.session);
        offer = saved.session;
        slot->inherited = saved.dane;
        ++stats_.offered;
      }
    }
  }
  bool offered = false;
  if (offer != nullptr) {
    offered = SSL_set_session(ssl, offer) == 1;
    SSL_SESSION_free(offer);  // SSL_set_session took its own reference
  }
  if (SSL_set_ex_data(ssl, slot_index(), slot.get()) == 1) (void)slot.release();
  return offered;
}

std::optional<DaneFacts> SessionCache::inherited_dane(SSL* ssl) {
  const Slot* slot = slot_of(ssl);
  return slot != nullptr ? slot->inherited : std::nullopt;
}

void SessionCache::keep_resumable(SSL* ssl) {
  if (slot_of(ssl) != nullptr) SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_SENT_SHUTDOWN);
}

void SessionCache::store(const std::string& key, SSL_SESSION* session, std::optional<DaneFacts> dane) {
  const std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= capacity_) {
      auto oldest = entries_.find(recent_.back());
      drop(oldest->second);
      entries_.erase(oldest);
      recent_.pop_back();
    }
    recent_.push_front(key);
    it = entries_.emplace(key, Entry{.sessions = {}, .recent = recent_.begin()}).first;
  } else {
    recent_.splice(recent_.begin(), recent_, it->second.recent);
  }
  auto& list = it->second.sessions;
  if (list.size() >= per_key_) {
    SSL_SESSION_free(list.front().session);
    list.erase(list.begin());
  }
  list.push_back({session, std::move(dane)});
  ++stats_.stored;
}

SessionCache::Stats SessionCache::stats() const {
  const std::lock_guard lock(mutex_);
  Stats s = stats_;
  s.keys = entries_.size();
  return s;
}

}  // namespace ostls::tls
