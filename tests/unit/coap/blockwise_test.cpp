#include "gateway/coap/blockwise.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/manual_clock.h"

namespace lwgate::coap::blockwise_test {
namespace {

using std::chrono::milliseconds;
using Kind = UploadStep::Kind;
using AKind = AnswerStep::Kind;

constexpr std::uint8_t kTooLarge = 0x8d;
constexpr std::uint8_t kServiceUnavailable = 0xa3;
constexpr std::uint8_t kBadRequest = 0x80;

core::Peer peerAt(std::string address, std::uint16_t port) {
  return core::Peer{"udp", std::move(address), port};
}

BlockValue block(std::uint32_t num, bool more, unsigned szx = 0) {
  return BlockValue{num, more, szx};
}

std::string bytes(std::size_t n, char c) {
  return std::string(n, c);
}

TEST(BlockValue, DecodesNumMoreAndSizeAndRefusesBertAndOverlongValues) {
  auto b = decodeBlock(0x1d);  // num 1, more, szx 5 (512 bytes)
  ASSERT_TRUE(b);
  EXPECT_EQ(b->num, 1u);
  EXPECT_TRUE(b->more);
  EXPECT_EQ(b->size(), 512u);
  EXPECT_EQ(b->offset(), 512u);
  EXPECT_EQ(b->encode(), 0x1du);
  auto last = decodeBlock(0xfffff6);  // the highest num (2^20 - 1), szx 6
  ASSERT_TRUE(last);
  EXPECT_EQ(last->num, 0xfffffu);
  EXPECT_EQ(last->offset(), std::uint64_t{0xfffff} * 1024);
  EXPECT_FALSE(decodeBlock(0x07));        // SZX 7: BERT
  EXPECT_FALSE(decodeBlock(0x1000000));   // four bytes
  EXPECT_FALSE(decodeBlock(0xffffffff));  // what the server passes for an over-long option
}

TEST(UploadKey, SeparatesMethodPathAndQuery) {
  core::Request a;
  a.method = core::Method::kPost;
  a.uriPath = {"rd"};
  a.uriQuery = {"ep=a", "lt=60"};
  core::Request b = a;
  b.uriQuery = {"ep=b", "lt=60"};
  core::Request c = a;
  c.method = core::Method::kPut;
  EXPECT_EQ(uploadKey(a), "2/rd?ep=a&lt=60");
  EXPECT_NE(uploadKey(a), uploadKey(b));
  EXPECT_NE(uploadKey(a), uploadKey(c));
}

class Uploads : public ::testing::Test {
 protected:
  UploadLimits limits() {
    UploadLimits l;
    l.maxBody = 64;
    l.maxPerPeer = 2;
    l.maxPerAddress = 3;
    l.maxTotal = 5;
    l.idleTimeout = milliseconds(93'000);
    return l;
  }
  testing::ManualClock clock_;
  UploadReassembler r_{clock_, limits()};
  core::Peer peer_ = peerAt("192.0.2.1", 40000);
};

TEST_F(Uploads, JoinsBlocksInOrderAndKeepsNothingAfterwards) {
  EXPECT_EQ(r_.accept(peer_, "k", block(0, true), std::nullopt, bytes(16, 'a')).kind,
            Kind::kContinue);
  EXPECT_EQ(r_.accept(peer_, "k", block(1, true), std::nullopt, bytes(16, 'b')).kind,
            Kind::kContinue);
  EXPECT_EQ(r_.bufferedBytes(), 32u);
  auto done = r_.accept(peer_, "k", block(2, false), std::nullopt, "end");
  ASSERT_EQ(done.kind, Kind::kComplete);
  EXPECT_EQ(done.body, bytes(16, 'a') + bytes(16, 'b') + "end");
  EXPECT_EQ(r_.transfers(), 0u);
  EXPECT_EQ(r_.bufferedBytes(), 0u);
}

TEST_F(Uploads, OneBlockBodyIsCompleteAtOnce) {
  auto done = r_.accept(peer_, "k", block(0, false, 6), std::nullopt, "</1/0>");
  ASSERT_EQ(done.kind, Kind::kComplete);
  EXPECT_EQ(done.body, "</1/0>");
  EXPECT_EQ(r_.transfers(), 0u);
}

// The defect this class exists for: libcoap sized its buffer from Size1 = 0xFFFFFFFF.
TEST_F(Uploads, HugeSize1IsRefusedWith413AndTheLimitBeforeAnythingIsHeld) {
  for (std::uint32_t port = 1; port <= 20; ++port) {
    auto s = r_.accept(peerAt("192.0.2.9", static_cast<std::uint16_t>(port)), "k", block(0, true),
                       0xffffffffULL, bytes(16, 'x'));
    ASSERT_EQ(s.kind, Kind::kRefused);
    EXPECT_EQ(s.code, kTooLarge);
    EXPECT_EQ(s.size1, 64u);
    EXPECT_NE(s.reason.find("4294967295"), std::string::npos) << s.reason;
  }
  EXPECT_EQ(r_.transfers(), 0u);
  EXPECT_EQ(r_.bufferedBytes(), 0u);
}

TEST_F(Uploads, Size1WithinTheLimitIsOnlyAnEstimate) {
  EXPECT_EQ(r_.accept(peer_, "k", block(0, true), 64u, bytes(16, 'a')).kind, Kind::kContinue);
  auto done = r_.accept(peer_, "k", block(1, false), 64u, "z");
  EXPECT_EQ(done.kind, Kind::kComplete);
  EXPECT_EQ(done.body.size(), 17u);
}

TEST_F(Uploads, ABlockFarBeyondTheLimitIs413WithoutAllocating) {
  auto s = r_.accept(peer_, "k", block(0xfffff, true, 6), std::nullopt, bytes(1024, 'x'));
  EXPECT_EQ(s.kind, Kind::kRefused);
  EXPECT_EQ(s.code, kTooLarge);
  EXPECT_EQ(r_.bufferedBytes(), 0u);
}

TEST_F(Uploads, GrowingPastTheLimitEndsTheTransferWith413) {
  for (std::uint32_t n = 0; n < 4; ++n) {
    ASSERT_EQ(r_.accept(peer_, "k", block(n, true), std::nullopt, bytes(16, 'a')).kind,
              Kind::kContinue);
  }
  auto s = r_.accept(peer_, "k", block(4, true), std::nullopt, bytes(16, 'a'));
  EXPECT_EQ(s.code, kTooLarge);
  EXPECT_EQ(r_.transfers(), 0u);
  // Nothing is left to continue: a retransmitted earlier block finds no start.
  EXPECT_EQ(r_.accept(peer_, "k", block(3, false), std::nullopt, "x").code,
            kCodeRequestEntityIncomplete);
}

TEST_F(Uploads, BlocksWithoutTheirStartOrWithAGapAre408) {
  auto orphan = r_.accept(peer_, "k", block(3, true), std::nullopt, bytes(16, 'a'));
  EXPECT_EQ(orphan.code, kCodeRequestEntityIncomplete);
  EXPECT_EQ(r_.transfers(), 0u);
  ASSERT_EQ(r_.accept(peer_, "k", block(0, true), std::nullopt, bytes(16, 'a')).kind,
            Kind::kContinue);
  auto gap = r_.accept(peer_, "k", block(2, true), std::nullopt, bytes(16, 'c'));
  EXPECT_EQ(gap.code, kCodeRequestEntityIncomplete);
  EXPECT_EQ(r_.transfers(), 0u);
}

TEST_F(Uploads, AShortBlockThatSaysMoreFollowsIs400) {
  auto s = r_.accept(peer_, "k", block(0, true), std::nullopt, bytes(15, 'a'));
  EXPECT_EQ(s.code, kBadRequest);
  auto big = r_.accept(peer_, "k", block(0, false), std::nullopt, bytes(17, 'a'));
  EXPECT_EQ(big.code, kBadRequest);
  EXPECT_EQ(r_.transfers(), 0u);
}

TEST_F(Uploads, ARepeatedBlockOrASmallerBlockSizeContinuesFromItsOffset) {
  ASSERT_EQ(r_.accept(peer_, "k", block(0, true, 1), std::nullopt, bytes(32, 'a')).kind,
            Kind::kContinue);
  ASSERT_EQ(r_.accept(peer_, "k", block(0, true, 1), std::nullopt, bytes(32, 'b')).kind,
            Kind::kContinue);
  EXPECT_EQ(r_.bufferedBytes(), 32u);
  // Now 16-byte blocks: num 2 starts at byte 32.
  ASSERT_EQ(r_.accept(peer_, "k", block(2, true, 0), std::nullopt, bytes(16, 'c')).kind,
            Kind::kContinue);
  auto done = r_.accept(peer_, "k", block(3, false, 0), std::nullopt, "d");
  ASSERT_EQ(done.kind, Kind::kComplete);
  EXPECT_EQ(done.body, bytes(32, 'b') + bytes(16, 'c') + "d");
}

TEST_F(Uploads, APeerStartingMoreThanItMayEndsItsOwnOldest) {
  r_.accept(peer_, "one", block(0, true), std::nullopt, bytes(16, 'a'));
  clock_.advance(milliseconds(1));
  r_.accept(peer_, "two", block(0, true), std::nullopt, bytes(16, 'a'));
  clock_.advance(milliseconds(1));
  EXPECT_EQ(r_.accept(peer_, "three", block(0, true), std::nullopt, bytes(16, 'a')).kind,
            Kind::kContinue);
  EXPECT_EQ(r_.transfers(), 2u);
  EXPECT_EQ(r_.accept(peer_, "one", block(1, false), std::nullopt, "x").code,
            kCodeRequestEntityIncomplete);
  EXPECT_EQ(r_.accept(peer_, "two", block(1, false), std::nullopt, "x").kind, Kind::kComplete);
}

TEST_F(Uploads, ManySourcePortsOfOneAddressGet503) {
  for (std::uint16_t port = 1; port <= 3; ++port) {
    ASSERT_EQ(
        r_.accept(peerAt("192.0.2.7", port), "k", block(0, true), std::nullopt, bytes(16, 'a'))
            .kind,
        Kind::kContinue);
  }
  auto s = r_.accept(peerAt("192.0.2.7", 4), "k", block(0, true), std::nullopt, bytes(16, 'a'));
  EXPECT_EQ(s.kind, Kind::kRefused);
  EXPECT_EQ(s.code, kServiceUnavailable);
  EXPECT_TRUE(s.capReached);
  EXPECT_NE(s.reason.find("from this address"), std::string::npos) << s.reason;
  // Another address still gets in.
  EXPECT_EQ(r_.accept(peer_, "k", block(0, true), std::nullopt, bytes(16, 'a')).kind,
            Kind::kContinue);
}

TEST_F(Uploads, TheTotalCapBoundsWhatIsHeld) {
  std::size_t refused = 0;
  for (int a = 0; a < 20; ++a) {
    auto s = r_.accept(peerAt("198.51.100." + std::to_string(a), 5683), "k", block(0, true),
                       std::nullopt, bytes(16, 'a'));
    if (s.kind == Kind::kRefused) {
      EXPECT_EQ(s.code, kServiceUnavailable);
      ++refused;
    }
  }
  EXPECT_EQ(refused, 15u);
  EXPECT_EQ(r_.transfers(), 5u);
  EXPECT_LE(r_.bufferedBytes(), 5u * 64u);
}

TEST_F(Uploads, AnIdleTransferTimesOut) {
  r_.accept(peer_, "k", block(0, true), std::nullopt, bytes(16, 'a'));
  clock_.advance(milliseconds(93'000));
  EXPECT_EQ(r_.expire(), 0u);
  clock_.advance(milliseconds(1));
  EXPECT_EQ(r_.expire(), 1u);
  EXPECT_EQ(r_.accept(peer_, "k", block(1, false), std::nullopt, "x").code,
            kCodeRequestEntityIncomplete);
}

class Answers : public ::testing::Test {
 protected:
  AnswerLimits limits() {
    AnswerLimits l;
    l.maxBody = 64;
    l.maxPerPeer = 2;
    l.maxTotal = 3;
    l.idleTimeout = milliseconds(10'000);
    return l;
  }
  testing::ManualClock clock_;
  AnswerReassembler r_{clock_, limits()};
  core::Peer device_ = peerAt("192.0.2.1", 56830);
  std::vector<std::uint8_t> token_{1, 2, 3, 4, 5, 6, 7, 8};
  AnswerHead head_{0x45, 11542, 7, true};
};

TEST_F(Answers, JoinsBlocksAndKeepsTheFirstBlocksHead) {
  EXPECT_EQ(r_.accept(device_, token_, block(0, true), bytes(16, 'a'), head_).kind,
            AKind::kPartial);
  AnswerHead later{0x45, 11542, std::nullopt, true};  // follow-ups carry no Observe
  EXPECT_EQ(r_.accept(device_, token_, block(1, true), bytes(16, 'b'), later).kind,
            AKind::kPartial);
  auto done = r_.accept(device_, token_, block(2, false), "c", later);
  ASSERT_EQ(done.kind, AKind::kComplete);
  EXPECT_EQ(done.body, bytes(16, 'a') + bytes(16, 'b') + "c");
  EXPECT_EQ(done.head.observe, 7u);
  EXPECT_EQ(done.head.contentFormat, 11542);
  EXPECT_EQ(r_.transfers(), 0u);
}

TEST_F(Answers, AnAnswerOverTheLimitFailsOnceAndItsLaterBlocksAreDropped) {
  for (std::uint32_t n = 0; n < 4; ++n) {
    ASSERT_EQ(r_.accept(device_, token_, block(n, true), bytes(16, 'a'), head_).kind,
              AKind::kPartial);
  }
  auto failed = r_.accept(device_, token_, block(4, true), bytes(16, 'a'), head_);
  ASSERT_EQ(failed.kind, AKind::kFailed);
  EXPECT_NE(failed.reason.find("limit of 64 bytes"), std::string::npos) << failed.reason;
  EXPECT_EQ(failed.head.code, 0x45);
  EXPECT_EQ(r_.bufferedBytes(), 0u);
  EXPECT_EQ(r_.accept(device_, token_, block(5, true), bytes(16, 'a'), head_).kind,
            AKind::kIgnored);
  EXPECT_EQ(r_.accept(device_, token_, block(6, false), "z", head_).kind, AKind::kIgnored);
  EXPECT_EQ(r_.transfers(), 0u);
}

TEST_F(Answers, AGapFailsTheAnswerAndABlockOfNothingIsIgnored) {
  EXPECT_EQ(r_.accept(device_, token_, block(3, true), bytes(16, 'a'), head_).kind,
            AKind::kIgnored);
  r_.accept(device_, token_, block(0, true), bytes(16, 'a'), head_);
  EXPECT_EQ(r_.accept(device_, token_, block(2, false), "x", head_).kind, AKind::kFailed);
  EXPECT_EQ(r_.transfers(), 0u);
}

TEST_F(Answers, OneBlockOverTheLimitFails) {
  EXPECT_EQ(r_.accept(device_, token_, block(0, false, 6), bytes(65, 'a'), head_).kind,
            AKind::kFailed);
  EXPECT_EQ(r_.accept(device_, token_, block(0, false, 6), bytes(64, 'a'), head_).kind,
            AKind::kComplete);
}

TEST_F(Answers, CapsOnTransfersInProgressFailTheNewOne) {
  r_.accept(device_, {1}, block(0, true), bytes(16, 'a'), head_);
  r_.accept(device_, {2}, block(0, true), bytes(16, 'a'), head_);
  auto third = r_.accept(device_, {3}, block(0, true), bytes(16, 'a'), head_);
  EXPECT_EQ(third.kind, AKind::kFailed);
  EXPECT_NE(third.reason.find("from this device"), std::string::npos) << third.reason;
  EXPECT_EQ(r_.accept(device_, {3}, block(1, false), "x", head_).kind, AKind::kIgnored);
  r_.accept(peerAt("192.0.2.2", 1), {4}, block(0, true), bytes(16, 'a'), head_);
  auto fifth = r_.accept(peerAt("192.0.2.3", 1), {5}, block(0, true), bytes(16, 'a'), head_);
  EXPECT_EQ(fifth.kind, AKind::kFailed);
  EXPECT_LE(r_.bufferedBytes(), 3u * 64u);
}

TEST_F(Answers, ALostFollowUpAbandonsItsTransfer) {
  r_.accept(device_, {1}, block(0, true), bytes(16, 'a'), head_);
  // The only untagged transfer of the device: its first follow-up was lost.
  auto first = r_.abandon(device_, 0x1234);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->token, std::vector<std::uint8_t>{1});
  EXPECT_EQ(first->head.code, 0x45);

  r_.accept(device_, {1}, block(0, true), bytes(16, 'a'), head_);
  r_.accept(device_, {2}, block(0, true), bytes(16, 'a'), head_);
  EXPECT_FALSE(r_.abandon(device_, 0x99));  // two untagged: cannot tell which
  r_.noteFollowUp(device_, {2}, 0x99);
  auto tagged = r_.abandon(device_, 0x99);
  ASSERT_TRUE(tagged);
  EXPECT_EQ(tagged->token, std::vector<std::uint8_t>{2});
  EXPECT_FALSE(r_.abandon(peerAt("192.0.2.99", 1), 0x99));
}

TEST_F(Answers, IdleTransfersExpire) {
  r_.accept(device_, {1}, block(0, true), bytes(16, 'a'), head_);
  clock_.advance(milliseconds(10'000));
  EXPECT_TRUE(r_.expire().empty());
  clock_.advance(milliseconds(1));
  auto gone = r_.expire();
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].token, std::vector<std::uint8_t>{1});
  EXPECT_FALSE(gone[0].failedBefore);
  EXPECT_EQ(r_.transfers(), 0u);
}

TEST(LogThrottle, OneLinePerIntervalWithTheCountOfTheRest) {
  testing::ManualClock clock;
  LogThrottle t(clock, milliseconds(10'000));
  std::size_t suppressed = 99;
  EXPECT_TRUE(t.allow(&suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(t.allow(&suppressed));
  EXPECT_FALSE(t.allow(&suppressed));
  clock.advance(milliseconds(10'000));
  EXPECT_TRUE(t.allow(&suppressed));
  EXPECT_EQ(suppressed, 2u);
}

}  // namespace
}  // namespace lwgate::coap::blockwise_test
