#include "modem/rate_limit.h"

#include <gtest/gtest.h>

#include "tests/support/manual_clock.h"

namespace lwgate::modem {
namespace {

using namespace std::chrono_literals;

TEST(HourlyLimit, CapsEachSenderPerSlidingHour) {
  testing::ManualClock clock;
  HourlyLimit limit(clock, 3);
  EXPECT_TRUE(limit.take("+491"));
  clock.advance(10min);
  EXPECT_TRUE(limit.take("+491"));
  EXPECT_TRUE(limit.take("+491"));
  EXPECT_FALSE(limit.take("+491"));  // the fourth within the hour
  EXPECT_EQ(limit.count("+491"), 3u);
  // Another number has its own cap.
  EXPECT_TRUE(limit.take("+492"));
  // Refused messages do not count: an hour after the first one there is room for one more.
  clock.advance(49min + 59s);
  EXPECT_FALSE(limit.take("+491"));
  clock.advance(1s);
  EXPECT_TRUE(limit.take("+491"));
  EXPECT_FALSE(limit.take("+491"));
  clock.advance(10min);
  EXPECT_TRUE(limit.take("+491"));
  EXPECT_TRUE(limit.take("+491"));
  EXPECT_EQ(limit.count("+491"), 3u);
}

TEST(HourlyLimit, ZeroRefusesEverythingAndAChangeAppliesAtOnce) {
  testing::ManualClock clock;
  HourlyLimit limit(clock, 0);
  EXPECT_FALSE(limit.take("+491"));
  EXPECT_EQ(limit.senders(), 0u);
  limit.setLimit(1);
  EXPECT_TRUE(limit.take("+491"));
  EXPECT_FALSE(limit.take("+491"));
  limit.setLimit(0);
  clock.advance(2h);
  EXPECT_FALSE(limit.take("+491"));
  EXPECT_EQ(limit.senders(), 0u);
}

TEST(HourlyLimit, RemembersABoundedNumberOfSenders) {
  testing::ManualClock clock;
  HourlyLimit limit(clock, 2, /*maxSenders=*/3);
  for (int k = 0; k < 3; ++k) {
    EXPECT_TRUE(limit.take("+49" + std::to_string(k)));
    clock.advance(1s);
  }
  EXPECT_TRUE(limit.take("+490"));  // +490 is now the most recently active
  clock.advance(1s);
  // A fourth sender: the least recently active (+491) is forgotten to make room.
  EXPECT_TRUE(limit.take("+493"));
  EXPECT_EQ(limit.senders(), 3u);
  EXPECT_EQ(limit.count("+491"), 0u);
  EXPECT_EQ(limit.count("+490"), 2u);
  EXPECT_FALSE(limit.take("+490"));
  // Senders idle for an hour go first.
  clock.advance(1h);
  for (int k = 10; k < 13; ++k) EXPECT_TRUE(limit.take("+49" + std::to_string(k)));
  EXPECT_EQ(limit.senders(), 3u);
}

}  // namespace
}  // namespace lwgate::modem
