#include "gateway/core/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace lwgate::core {
namespace {

constexpr auto kLogInterval = std::chrono::minutes(1);

double secondsBetween(SteadyTime from, SteadyTime to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

void RateLimiter::setLimit(const RateLimit& limit) {
  limit_ = limit;
  // Buckets fuller than the new burst are cut down; a smaller address bound applies at once.
  for (auto& [address, bucket] : buckets_) bucket.tokens = std::min(bucket.tokens, limit_.burst);
  while (buckets_.size() > limit_.maxAddresses && !lru_.empty()) {
    buckets_.erase(lru_.back());
    lru_.pop_back();
  }
}

bool RateLimiter::logAllowed(SteadyTime now) {
  if (logLinesInWindow_ == 0 || now - logWindowStart_ >= kLogInterval) {
    logWindowStart_ = now;
    logLinesInWindow_ = 0;
  }
  if (logLinesInWindow_ >= kMaxLogLinesPerMinute) return false;
  ++logLinesInWindow_;
  return true;
}

RateLimiter::Decision RateLimiter::take(std::string_view address) {
  Decision d;
  if (limit_.perSecond <= 0 || limit_.maxAddresses == 0) return d;
  const SteadyTime now = clock_.steadyNow();
  auto it = buckets_.find(std::string(address));
  if (it == buckets_.end()) {
    if (buckets_.size() >= limit_.maxAddresses) {
      buckets_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.emplace_front(address);
    Bucket fresh;
    fresh.tokens = limit_.burst;
    fresh.refilledAt = now;
    fresh.lru = lru_.begin();
    it = buckets_.emplace(std::string(address), fresh).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  Bucket& b = it->second;
  b.tokens = std::min(
      limit_.burst, b.tokens + std::max(0.0, secondsBetween(b.refilledAt, now)) * limit_.perSecond);
  b.refilledAt = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return d;
  }
  d.allowed = false;
  d.retryAfterSeconds = static_cast<std::uint32_t>(
      std::clamp(std::ceil((1 - b.tokens) / limit_.perSecond), 1.0, 86400.0));
  ++b.refused;
  if ((!b.logged || now - b.loggedAt >= kLogInterval) && logAllowed(now)) {
    d.log = true;
    d.refusedSinceLog = b.refused;
    b.refused = 0;
    b.logged = true;
    b.loggedAt = now;
  }
  return d;
}

bool countsAgainstRateLimit(const Request& request, const Registry& registry) {
  const auto& path = request.uriPath;
  if (path.size() == 2 && path[0] == "rd") {
    const Registration* reg = registry.findByLocation(path[1]);
    return !reg || !(reg->peer == request.peer);
  }
  // A Send (POST /dp) from where a registration was made is that device's own traffic; from
  // anywhere else it names no registration.
  if (path.size() == 1 && path[0] == "dp") return registry.findByPeer(request.peer) == nullptr;
  return true;
}

Response tooManyRequests(std::uint32_t retryAfterSeconds) {
  Response r;
  r.code = Code::kTooManyRequests;
  r.maxAge = retryAfterSeconds;
  r.payload = "too many requests from this address; try again in " +
              std::to_string(retryAfterSeconds) + " s";
  return r;
}

}  // namespace lwgate::core
