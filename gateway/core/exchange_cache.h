#pragma once
// Message deduplication for requests from devices (RFC 7252 4.5): a retransmitted CON (same
// peer, same Message ID) must get the same answer and must not run again. Without it a Register
// whose 2.01 was lost would create a second registration with a second location. The cache keeps
// each answer for EXCHANGE_LIFETIME, bounded in entries so a flood cannot grow it without limit
// (under such a flood the oldest entries go first, which only weakens deduplication).
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

#include "gateway/core/clock.h"
#include "gateway/core/message.h"

namespace lwgate::core {

inline constexpr Seconds kExchangeLifetime{247};  // RFC 7252 4.8.2 with default parameters

class ExchangeCache {
 public:
  ExchangeCache(const Clock& clock, std::size_t maxEntries, Seconds lifetime = kExchangeLifetime)
      : clock_(clock), maxEntries_(maxEntries), lifetime_(lifetime) {}

  // The stored answer for (peer, message id), if it is still fresh.
  const Response* find(const Peer& peer, std::uint16_t messageId);
  void remember(const Peer& peer, std::uint16_t messageId, const Response& response);
  // Drops one answer, e.g. one that was never sent because its batch could not be committed.
  void forget(const Peer& peer, std::uint16_t messageId);
  std::size_t size() const { return index_.size(); }

 private:
  static std::string keyOf(const Peer& peer, std::uint16_t messageId);
  void evict();

  struct Entry {
    std::string key;
    SteadyTime expires;
    Response response;
  };
  const Clock& clock_;
  std::size_t maxEntries_;
  Seconds lifetime_;
  std::list<Entry> entries_;  // oldest first; all entries share one lifetime, so also by expiry
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace lwgate::core
