// The per-address token bucket with a hand-moved clock: literal time steps, no sleeping.
#include "gateway/core/rate_limiter.h"

#include <gtest/gtest.h>

#include "tests/support/manual_clock.h"
#include "tests/unit/core/fake_store.h"

namespace lwgate::core {
namespace rate_limiter_test {

using namespace std::chrono_literals;

TEST(RateLimiter, BurstThenRefillAtTheRate) {
  lwgate::testing::ManualClock clock;
  RateLimiter limiter(clock, {.perSecond = 2, .burst = 5, .maxAddresses = 100});
  for (int k = 0; k < 5; ++k) EXPECT_TRUE(limiter.take("10.0.0.1").allowed) << k;
  auto refused = limiter.take("10.0.0.1");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retryAfterSeconds, 1u);  // half a second to the next token, rounded up
  // Another address has its own bucket.
  EXPECT_TRUE(limiter.take("10.0.0.2").allowed);

  clock.advance(499ms);
  EXPECT_FALSE(limiter.take("10.0.0.1").allowed);
  clock.advance(1ms);
  EXPECT_TRUE(limiter.take("10.0.0.1").allowed);
  EXPECT_FALSE(limiter.take("10.0.0.1").allowed);

  // A long quiet time refills up to the burst, not beyond.
  clock.advance(1h);
  for (int k = 0; k < 5; ++k) EXPECT_TRUE(limiter.take("10.0.0.1").allowed) << k;
  EXPECT_FALSE(limiter.take("10.0.0.1").allowed);
}

TEST(RateLimiter, RetryAfterIsTheTimeToTheNextToken) {
  lwgate::testing::ManualClock clock;
  RateLimiter limiter(clock, {.perSecond = 0.1, .burst = 1, .maxAddresses = 10});
  EXPECT_TRUE(limiter.take("a").allowed);
  EXPECT_EQ(limiter.take("a").retryAfterSeconds, 10u);
  clock.advance(3500ms);
  EXPECT_EQ(limiter.take("a").retryAfterSeconds, 7u);  // 6.5 s rounded up
}

TEST(RateLimiter, ZeroRateTurnsItOff) {
  lwgate::testing::ManualClock clock;
  RateLimiter limiter(clock, {.perSecond = 0, .burst = 1, .maxAddresses = 10});
  for (int k = 0; k < 1000; ++k) ASSERT_TRUE(limiter.take("a").allowed);
  EXPECT_EQ(limiter.trackedAddresses(), 0u);
}

TEST(RateLimiter, MemoryIsBoundedByForgettingTheLeastRecentlyUsed) {
  lwgate::testing::ManualClock clock;
  RateLimiter limiter(clock, {.perSecond = 1, .burst = 1, .maxAddresses = 3});
  EXPECT_TRUE(limiter.take("a").allowed);
  EXPECT_TRUE(limiter.take("b").allowed);
  EXPECT_TRUE(limiter.take("c").allowed);
  EXPECT_FALSE(limiter.take("a").allowed);  // a is now the most recently used
  EXPECT_TRUE(limiter.take("d").allowed);   // b is forgotten
  EXPECT_EQ(limiter.trackedAddresses(), 3u);
  EXPECT_FALSE(limiter.take("a").allowed);  // still remembered and still empty
  EXPECT_TRUE(limiter.take("b").allowed);   // starts again with a full bucket
  for (int k = 0; k < 10000; ++k) (void)limiter.take("x" + std::to_string(k));
  EXPECT_EQ(limiter.trackedAddresses(), 3u);
}

TEST(RateLimiter, LogLineAtMostOncePerMinutePerAddressWithTheCount) {
  lwgate::testing::ManualClock clock;
  RateLimiter limiter(clock, {.perSecond = 1, .burst = 1, .maxAddresses = 10});
  EXPECT_TRUE(limiter.take("a").allowed);
  auto first = limiter.take("a");
  EXPECT_TRUE(first.log);
  EXPECT_EQ(first.refusedSinceLog, 1u);
  for (int k = 0; k < 5; ++k) {
    auto d = limiter.take("a");
    EXPECT_FALSE(d.allowed);
    EXPECT_FALSE(d.log);
  }
  // Tokens come back every second; the refusals in between are counted, not logged.
  for (int s = 0; s < 59; ++s) {
    clock.advance(1s);
    EXPECT_TRUE(limiter.take("a").allowed);
    EXPECT_FALSE(limiter.take("a").log);
  }
  clock.advance(1s);
  EXPECT_TRUE(limiter.take("a").allowed);
  auto next = limiter.take("a");
  EXPECT_TRUE(next.log);
  EXPECT_EQ(next.refusedSinceLog, 5u + 59u + 1u);
}

TEST(RateLimiter, LogLinesForAllAddressesTogetherAreCapped) {
  lwgate::testing::ManualClock clock;
  RateLimiter limiter(clock, {.perSecond = 1, .burst = 0, .maxAddresses = 1000});
  unsigned logged = 0;
  for (int k = 0; k < 100; ++k) logged += limiter.take("10.0.0." + std::to_string(k)).log;
  EXPECT_EQ(logged, kMaxLogLinesPerMinute);
  clock.advance(std::chrono::minutes(1));
  // An address that was not logged before gets its line (with every refusal counted) once the
  // window opens again.
  auto d = limiter.take("10.0.0.50");
  EXPECT_TRUE(d.log);
  EXPECT_EQ(d.refusedSinceLog, 2u);
}

TEST(RateLimiter, SmallerBurstAppliesAtOnce) {
  lwgate::testing::ManualClock clock;
  RateLimiter limiter(clock, {.perSecond = 1, .burst = 100, .maxAddresses = 10});
  EXPECT_TRUE(limiter.take("a").allowed);
  limiter.setLimit({.perSecond = 1, .burst = 2, .maxAddresses = 10});
  EXPECT_TRUE(limiter.take("a").allowed);
  EXPECT_TRUE(limiter.take("a").allowed);
  EXPECT_FALSE(limiter.take("a").allowed);
}

TEST(RateLimiter, TooManyRequestsAnswerCarriesMaxAge) {
  Response r = tooManyRequests(7);
  EXPECT_EQ(r.code, Code::kTooManyRequests);
  EXPECT_EQ(codeText(r.code), "4.29");
  EXPECT_EQ(r.maxAge, 7u);
  EXPECT_NE(r.payload.find("7 s"), std::string::npos);
}

TEST(RateLimiter, OnlyRequestsOnTheSendersOwnRegistrationAreFree) {
  lwgate::testing::ManualClock clock;
  lwgate::testing::FakeStore store;
  Registry registry(clock, store, {}, [] { return std::string("loc1"); });
  const Peer device{"udp", "10.0.0.1", 5683};
  lwm2m::RegisterParams params;
  params.endpoint = "dev";
  ASSERT_TRUE(registry.registerClient(params, {}, device).ok());

  Request r;
  r.method = Method::kPost;
  r.peer = device;
  r.uriPath = {"rd", "loc1"};
  EXPECT_FALSE(countsAgainstRateLimit(r, registry));  // its own Update
  r.uriPath = {"rd", "loc2"};
  EXPECT_TRUE(countsAgainstRateLimit(r, registry));  // an unknown location
  r.uriPath = {"rd"};
  EXPECT_TRUE(countsAgainstRateLimit(r, registry));  // a Register
  r.uriPath = {"elsewhere"};
  EXPECT_TRUE(countsAgainstRateLimit(r, registry));  // an unknown resource
  r.uriPath = {"dp"};
  EXPECT_FALSE(countsAgainstRateLimit(r, registry));  // its own Send
  r.peer.port = 5999;
  EXPECT_TRUE(countsAgainstRateLimit(r, registry));  // a Send from nobody registered
  r.peer = device;
  r.uriPath = {"rd", "loc1"};
  r.peer.port = 5999;  // someone else on the same host, or the device after a NAT rebinding
  EXPECT_TRUE(countsAgainstRateLimit(r, registry));
  r.peer = device;
  r.peer.transport = "dtls";
  EXPECT_TRUE(countsAgainstRateLimit(r, registry));
}

}  // namespace rate_limiter_test
}  // namespace lwgate::core
