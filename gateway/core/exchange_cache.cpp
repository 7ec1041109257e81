#include "gateway/core/exchange_cache.h"

namespace lwgate::core {

std::string ExchangeCache::keyOf(const Peer& peer, std::uint16_t messageId) {
  return peerKey(peer) + "|" + std::to_string(messageId);
}

const Response* ExchangeCache::find(const Peer& peer, std::uint16_t messageId) {
  evict();
  auto it = index_.find(keyOf(peer, messageId));
  return it == index_.end() ? nullptr : &it->second->response;
}

void ExchangeCache::remember(const Peer& peer, std::uint16_t messageId, const Response& response) {
  if (maxEntries_ == 0) return;
  std::string key = keyOf(peer, messageId);
  if (auto it = index_.find(key); it != index_.end()) {
    entries_.erase(it->second);
    index_.erase(it);
  }
  entries_.push_back({key, clock_.steadyNow() + lifetime_, response});
  index_.emplace(std::move(key), std::prev(entries_.end()));
  evict();
}

void ExchangeCache::forget(const Peer& peer, std::uint16_t messageId) {
  auto it = index_.find(keyOf(peer, messageId));
  if (it == index_.end()) return;
  entries_.erase(it->second);
  index_.erase(it);
}

void ExchangeCache::evict() {
  const SteadyTime now = clock_.steadyNow();
  while (!entries_.empty() && (entries_.front().expires <= now || entries_.size() > maxEntries_)) {
    index_.erase(entries_.front().key);
    entries_.pop_front();
  }
}

}  // namespace lwgate::core
