#pragma once
// Abuse limits for what a LAN peer can make the gateway do without being a registered device:
// a token bucket per source address for Registers and requests that name no registration of
// the sender (an unknown location, another peer's location, an unknown resource). A device's
// own Updates and De-registers (same transport, address and port as its registration) are never
// counted, so a busy device is not slowed down by its neighbours or by itself.
//
// Over the limit the request gets 4.29 Too Many Requests with Max-Age, the seconds until a
// token is back (RFC 8516), and nothing is done. The log line that says so is itself limited:
// per address at most one a minute (with how many were refused since), and at most
// kMaxLogLinesPerMinute for all addresses together, so a flood from many spoofed addresses
// cannot flood the journal either.
//
// Memory is bounded: at most `maxAddresses` buckets; beyond that the least recently used one is
// forgotten (a forgotten address starts again with a full bucket, which costs an attacker more
// addresses than it gains).
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gateway/core/clock.h"
#include "gateway/core/message.h"
#include "gateway/core/registry.h"

namespace lwgate::core {

struct RateLimit {
  double perSecond = 10;  // tokens added per second; 0 turns the limit off
  double burst = 50;      // bucket size: what an address may send at once after a quiet time
  std::size_t maxAddresses = 10000;
};

inline constexpr unsigned kMaxLogLinesPerMinute = 10;

class RateLimiter {
 public:
  RateLimiter(const Clock& clock, RateLimit limit) : clock_(clock), limit_(limit) {}

  struct Decision {
    bool allowed = true;
    // Refused: seconds until the address has a token again (>= 1), for Max-Age.
    std::uint32_t retryAfterSeconds = 0;
    // Refused and the log line is due; refusedSinceLog counts this refusal and the unlogged ones
    // before it.
    bool log = false;
    std::uint64_t refusedSinceLog = 0;
  };
  // Takes a token for one request from `address`.
  Decision take(std::string_view address);

  void setLimit(const RateLimit& limit);
  std::size_t trackedAddresses() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    SteadyTime refilledAt;
    std::uint64_t refused = 0;  // not yet logged
    bool logged = false;
    SteadyTime loggedAt;
    std::list<std::string>::iterator lru;
  };
  bool logAllowed(SteadyTime now);

  const Clock& clock_;
  RateLimit limit_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::list<std::string> lru_;  // most recently used first
  SteadyTime logWindowStart_{};
  unsigned logLinesInWindow_ = 0;
};

// Whether a request counts against its sender's rate limit: everything except a request on
// the location of a registration made from the very same peer (transport, address, port), and a
// Send (POST /dp) from the peer of a registration.
bool countsAgainstRateLimit(const Request& request, const Registry& registry);

// The 4.29 answer for a refused request.
Response tooManyRequests(std::uint32_t retryAfterSeconds);

}  // namespace lwgate::core
