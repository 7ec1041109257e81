#include "gateway/core/exchange_cache.h"

#include <gtest/gtest.h>

#include <ostream>

#include "tests/support/manual_clock.h"

namespace lwgate::core {

// Readable failure output: "2.01" instead of a byte dump.
static void PrintTo(Code code, std::ostream* os) {
  *os << codeText(code);
}

namespace {

using std::chrono::milliseconds;

const Peer kPeer{"udp", "127.0.0.1", 40000};

Response created(std::string location) {
  Response r;
  r.code = Code::kCreated;
  r.locationPath = {"rd", std::move(location)};
  return r;
}

Response failed(Code code, std::string payload) {
  Response r;
  r.code = code;
  r.payload = std::move(payload);
  return r;
}

class ExchangeCacheTest : public ::testing::Test {
 protected:
  testing::ManualClock clock;
};

TEST_F(ExchangeCacheTest, FindAfterRememberReturnsTheSameResponse) {
  ExchangeCache cache(clock, 10);
  Response r = created("abc123");
  r.payload = "diagnostic";
  r.contentFormat = 0;
  cache.remember(kPeer, 7, r);
  const Response* got = cache.find(kPeer, 7);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->code, Code::kCreated);
  EXPECT_EQ(got->locationPath, (std::vector<std::string>{"rd", "abc123"}));
  EXPECT_EQ(got->payload, "diagnostic");
  EXPECT_EQ(got->contentFormat, std::optional<std::uint16_t>(0));
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(ExchangeCacheTest, EmptyCacheFindsNothing) {
  ExchangeCache cache(clock, 10);
  EXPECT_EQ(cache.find(kPeer, 7), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(ExchangeCacheTest, OtherPeerOrMessageIdMisses) {
  ExchangeCache cache(clock, 10);
  cache.remember(kPeer, 7, created("a"));
  EXPECT_EQ(cache.find(Peer{"udp", "127.0.0.2", 40000}, 7), nullptr);   // address
  EXPECT_EQ(cache.find(Peer{"udp", "127.0.0.1", 40001}, 7), nullptr);   // port
  EXPECT_EQ(cache.find(Peer{"dtls", "127.0.0.1", 40000}, 7), nullptr);  // transport
  EXPECT_EQ(cache.find(kPeer, 8), nullptr);                             // message id
  EXPECT_EQ(cache.find(kPeer, 0), nullptr);
  EXPECT_NE(cache.find(kPeer, 7), nullptr);
}

TEST_F(ExchangeCacheTest, SameMessageIdFromTwoPeersAreTwoEntries) {
  ExchangeCache cache(clock, 10);
  const Peer other{"udp", "127.0.0.1", 40001};
  cache.remember(kPeer, 7, created("a"));
  cache.remember(other, 7, created("b"));
  EXPECT_EQ(cache.size(), 2u);
  ASSERT_NE(cache.find(kPeer, 7), nullptr);
  ASSERT_NE(cache.find(other, 7), nullptr);
  EXPECT_EQ(cache.find(kPeer, 7)->locationPath[1], "a");
  EXPECT_EQ(cache.find(other, 7)->locationPath[1], "b");
}

TEST_F(ExchangeCacheTest, EntryExpiresExactlyAtTheLifetime) {
  ExchangeCache cache(clock, 10, Seconds(30));
  cache.remember(kPeer, 7, created("a"));
  clock.advance(Seconds(30) - milliseconds(1));
  EXPECT_NE(cache.find(kPeer, 7), nullptr);
  clock.advance(milliseconds(1));
  EXPECT_EQ(cache.find(kPeer, 7), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(ExchangeCacheTest, DefaultLifetimeIsExchangeLifetime) {
  EXPECT_EQ(kExchangeLifetime, Seconds(247));
  ExchangeCache cache(clock, 10);
  cache.remember(kPeer, 7, created("a"));
  clock.advance(kExchangeLifetime - milliseconds(1));
  EXPECT_NE(cache.find(kPeer, 7), nullptr);
  clock.advance(milliseconds(1));
  EXPECT_EQ(cache.find(kPeer, 7), nullptr);
}

TEST_F(ExchangeCacheTest, EachEntryHasItsOwnDeadline) {
  ExchangeCache cache(clock, 10, Seconds(30));
  cache.remember(kPeer, 1, created("a"));
  clock.advance(Seconds(10));
  cache.remember(kPeer, 2, created("b"));
  clock.advance(Seconds(20));  // 30 s after the first, 20 s after the second
  EXPECT_EQ(cache.find(kPeer, 1), nullptr);
  EXPECT_NE(cache.find(kPeer, 2), nullptr);
  EXPECT_EQ(cache.size(), 1u);
  clock.advance(Seconds(10));
  EXPECT_EQ(cache.find(kPeer, 2), nullptr);
}

TEST_F(ExchangeCacheTest, WallClockStepDoesNotExpire) {
  ExchangeCache cache(clock, 10, Seconds(30));
  cache.remember(kPeer, 7, created("a"));
  clock.stepWall(std::chrono::hours(24));
  EXPECT_NE(cache.find(kPeer, 7), nullptr);
}

TEST_F(ExchangeCacheTest, BoundedRememberingOneMoreEvictsTheOldest) {
  ExchangeCache cache(clock, 3);
  cache.remember(kPeer, 1, created("a"));
  cache.remember(kPeer, 2, created("b"));
  cache.remember(kPeer, 3, created("c"));
  EXPECT_EQ(cache.size(), 3u);
  cache.remember(kPeer, 4, created("d"));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.find(kPeer, 1), nullptr);
  ASSERT_NE(cache.find(kPeer, 2), nullptr);
  ASSERT_NE(cache.find(kPeer, 3), nullptr);
  ASSERT_NE(cache.find(kPeer, 4), nullptr);
  EXPECT_EQ(cache.find(kPeer, 4)->locationPath[1], "d");
  cache.remember(kPeer, 5, created("e"));
  EXPECT_EQ(cache.find(kPeer, 2), nullptr);
  EXPECT_EQ(cache.size(), 3u);
}

TEST_F(ExchangeCacheTest, RememberingTheSameKeyTwiceKeepsOneEntryWithTheNewerResponse) {
  ExchangeCache cache(clock, 10);
  cache.remember(kPeer, 7, created("a"));
  cache.remember(kPeer, 7, failed(Code::kServiceUnavailable, "later"));
  EXPECT_EQ(cache.size(), 1u);
  const Response* got = cache.find(kPeer, 7);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->code, Code::kServiceUnavailable);
  EXPECT_TRUE(got->locationPath.empty());
  EXPECT_EQ(got->payload, "later");
}

TEST_F(ExchangeCacheTest, RememberedAgainCountsAsNewestForEviction) {
  ExchangeCache cache(clock, 2);
  cache.remember(kPeer, 1, created("a"));
  cache.remember(kPeer, 2, created("b"));
  cache.remember(kPeer, 1, created("a2"));  // now newer than 2
  cache.remember(kPeer, 3, created("c"));
  EXPECT_EQ(cache.find(kPeer, 2), nullptr);
  ASSERT_NE(cache.find(kPeer, 1), nullptr);
  EXPECT_EQ(cache.find(kPeer, 1)->locationPath[1], "a2");
  EXPECT_NE(cache.find(kPeer, 3), nullptr);
}

TEST_F(ExchangeCacheTest, RememberedAgainGetsAFreshLifetime) {
  ExchangeCache cache(clock, 10, Seconds(30));
  cache.remember(kPeer, 7, created("a"));
  clock.advance(Seconds(20));
  cache.remember(kPeer, 7, created("b"));
  clock.advance(Seconds(29));
  ASSERT_NE(cache.find(kPeer, 7), nullptr);
  EXPECT_EQ(cache.find(kPeer, 7)->locationPath[1], "b");
  clock.advance(Seconds(1));
  EXPECT_EQ(cache.find(kPeer, 7), nullptr);
}

TEST_F(ExchangeCacheTest, ForgetRemovesOneEntry) {
  ExchangeCache cache(clock, 10);
  cache.remember(kPeer, 1, created("a"));
  cache.remember(kPeer, 2, created("b"));
  cache.forget(kPeer, 1);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find(kPeer, 1), nullptr);
  EXPECT_NE(cache.find(kPeer, 2), nullptr);
  cache.forget(kPeer, 1);                      // unknown: nothing happens
  cache.forget(Peer{"udp", "::1", 40000}, 2);  // other peer: nothing happens
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_NE(cache.find(kPeer, 2), nullptr);
}

TEST_F(ExchangeCacheTest, ForgottenSlotIsReusedWithoutEvictingOthers) {
  ExchangeCache cache(clock, 2);
  cache.remember(kPeer, 1, created("a"));
  cache.remember(kPeer, 2, created("b"));
  cache.forget(kPeer, 2);
  cache.remember(kPeer, 3, created("c"));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.find(kPeer, 1), nullptr);
  EXPECT_NE(cache.find(kPeer, 3), nullptr);
}

TEST_F(ExchangeCacheTest, MaxEntriesZeroStoresNothing) {
  ExchangeCache cache(clock, 0);
  cache.remember(kPeer, 7, created("a"));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.find(kPeer, 7), nullptr);
  cache.forget(kPeer, 7);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace lwgate::core
