#include "modem/reassembly.h"

#include <gtest/gtest.h>

#include <numeric>

#include "tests/support/manual_clock.h"

namespace lwgate::modem {
namespace {

using Bytes = std::vector<std::uint8_t>;
using std::chrono::seconds;

constexpr const char* kNumber = "+4915112345678";

Bytes message(std::size_t n, std::uint8_t first = 1) {
  Bytes m(n);
  std::iota(m.begin(), m.end(), first);
  return m;
}

SegmentOptions options(std::uint16_t reference, std::optional<Ports> ports = std::nullopt,
                       ConcatWidth width = ConcatWidth::k8bit) {
  SegmentOptions o;
  o.width = width;
  o.reference = reference;
  o.ports = ports;
  return o;
}

// One limit changed from the defaults.
template <class T>
ReassemblyLimits with(T ReassemblyLimits::*member, T value) {
  ReassemblyLimits l;
  l.*member = value;
  return l;
}

// Parts as a device would send them, with handles 100, 101, ...
std::vector<IncomingPart> partsOf(const Bytes& m, SegmentOptions o = {},
                                  const std::string& msisdn = kNumber,
                                  std::uint64_t firstHandle = 100) {
  auto parts = segment(m, o);
  EXPECT_TRUE(parts.ok());
  std::vector<IncomingPart> out;
  for (auto& p : *parts) {
    out.push_back({msisdn, p.header, p.data, firstHandle++});
  }
  return out;
}

class ReassemblyTest : public ::testing::Test {
 protected:
  testing::ManualClock clock;
};

TEST_F(ReassemblyTest, SingleSmsWithoutHeaderIsCompleteAtOnce) {
  Reassembler r(clock);
  auto out = r.add({kNumber, {}, message(20), 7});
  ASSERT_TRUE(out.complete);
  EXPECT_EQ(out.complete->msisdn, kNumber);
  EXPECT_EQ(out.complete->message, message(20));
  EXPECT_EQ(out.complete->handles, (std::vector<std::uint64_t>{7}));
  EXPECT_FALSE(out.complete->ports);
  EXPECT_TRUE(out.dropped.empty());
  EXPECT_EQ(r.inProgress(), 0u);
}

TEST_F(ReassemblyTest, SingleSmsWithPortsOnly) {
  Reassembler r(clock);
  auto parts = partsOf(message(100), options(0, Ports{5683, 5684}));
  ASSERT_EQ(parts.size(), 1u);
  auto out = r.add(parts[0]);
  ASSERT_TRUE(out.complete);
  EXPECT_EQ(out.complete->ports, (Ports{5683, 5684}));
  EXPECT_EQ(out.complete->message, message(100));
}

TEST_F(ReassemblyTest, EveryLayoutInOrderAndReversed) {
  for (auto width : {ConcatWidth::k8bit, ConcatWidth::k16bit}) {
    for (bool ports : {false, true}) {
      for (bool reversed : {false, true}) {
        Reassembler r(clock);
        SegmentOptions o = options(300, std::nullopt, width);
        if (ports) o.ports = Ports{5683, 5683};
        auto parts = partsOf(message(390), o);
        ASSERT_EQ(parts.size(), ports ? 4u : 3u);
        if (reversed) std::reverse(parts.begin(), parts.end());
        for (std::size_t k = 0; k + 1 < parts.size(); ++k) {
          auto out = r.add(parts[k]);
          EXPECT_FALSE(out.complete);
          EXPECT_TRUE(out.dropped.empty());
        }
        EXPECT_EQ(r.inProgress(), 1u);
        auto out = r.add(parts.back());
        ASSERT_TRUE(out.complete);
        EXPECT_EQ(out.complete->message, message(390));
        EXPECT_EQ(out.complete->parts, parts.size());
        EXPECT_EQ(out.complete->ports, o.ports);
        EXPECT_EQ(out.complete->handles.size(), parts.size());
        EXPECT_EQ(r.inProgress(), 0u);
        EXPECT_EQ(r.bufferedBytes(), 0u);
      }
    }
  }
}

TEST_F(ReassemblyTest, OutOfOrderAndInterleavedMessages) {
  Reassembler r(clock);
  auto a = partsOf(message(300, 1), options(1), kNumber, 100);
  auto b = partsOf(message(300, 7), options(2), kNumber, 200);
  auto c = partsOf(message(300, 9), options(1), "+4917000000", 300);  // same reference
  for (auto* p : {&a[2], &b[1], &c[0], &a[0], &c[2], &b[2], &b[0]}) {
    auto out = r.add(*p);
    if (p == &b[0]) {
      ASSERT_TRUE(out.complete);
      EXPECT_EQ(out.complete->message, message(300, 7));
      EXPECT_EQ(out.complete->handles, (std::vector<std::uint64_t>{201, 202, 200}));
    } else {
      EXPECT_FALSE(out.complete);
    }
  }
  EXPECT_EQ(r.inProgress(), 2u);
  auto lastA = r.add(a[1]);
  ASSERT_TRUE(lastA.complete);
  EXPECT_EQ(lastA.complete->message, message(300, 1));
  auto lastC = r.add(c[1]);
  ASSERT_TRUE(lastC.complete);
  EXPECT_EQ(lastC.complete->msisdn, "+4917000000");
  EXPECT_EQ(lastC.complete->message, message(300, 9));
}

TEST_F(ReassemblyTest, DuplicatesAreIgnoredAndTheirHandlesComeBack) {
  Reassembler r(clock);
  auto parts = partsOf(message(200));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_FALSE(r.add(parts[0]).complete);
  IncomingPart again = parts[0];
  again.handle = 555;
  again.data.assign(again.data.size(), 0xee);  // a different body does not replace the first
  auto dup = r.add(again);
  EXPECT_FALSE(dup.complete);
  EXPECT_TRUE(dup.dropped.empty());
  auto out = r.add(parts[1]);
  ASSERT_TRUE(out.complete);
  EXPECT_EQ(out.complete->message, message(200));
  EXPECT_EQ(out.complete->handles, (std::vector<std::uint64_t>{100, 555, 101}));
}

TEST_F(ReassemblyTest, MissingPartTimesOut) {
  Reassembler r(clock, with(&ReassemblyLimits::timeout, core::Millis(seconds(60))));
  auto parts = partsOf(message(300));
  EXPECT_EQ(r.nextDeadline(), std::nullopt);
  r.add(parts[0]);
  clock.advance(seconds(30));
  r.add(parts[2]);
  EXPECT_EQ(r.nextDeadline(), clock.steadyNow() + seconds(30));  // from the first part
  clock.advance(seconds(29));
  EXPECT_TRUE(r.expire().empty());
  clock.advance(seconds(1));
  auto dropped = r.expire();
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].msisdn, kNumber);
  EXPECT_EQ(dropped[0].handles, (std::vector<std::uint64_t>{100, 102}));
  EXPECT_NE(dropped[0].reason.find("1 of 3 parts missing after 60s"), std::string::npos)
      << dropped[0].reason;
  EXPECT_EQ(r.inProgress(), 0u);
  EXPECT_EQ(r.bufferedBytes(), 0u);
  EXPECT_EQ(r.nextDeadline(), std::nullopt);
  // The late part starts a new message, which times out in its turn.
  EXPECT_FALSE(r.add(parts[1]).complete);
  EXPECT_EQ(r.inProgress(), 1u);
}

TEST_F(ReassemblyTest, ExpiresOldestFirstOnly) {
  Reassembler r(clock, with(&ReassemblyLimits::timeout, core::Millis(seconds(60))));
  r.add(partsOf(message(300), options(1))[0]);
  clock.advance(seconds(10));
  r.add(partsOf(message(300), options(2))[0]);
  clock.advance(seconds(50));
  EXPECT_EQ(r.expire().size(), 1u);
  EXPECT_EQ(r.inProgress(), 1u);
  EXPECT_EQ(r.nextDeadline(), clock.steadyNow() + seconds(10));
}

TEST_F(ReassemblyTest, TooManyPartsIsRefused) {
  Reassembler r(clock, with<std::size_t>(&ReassemblyLimits::maxPartsPerMessage, 4));
  auto parts = partsOf(message(5 * 134));
  ASSERT_EQ(parts.size(), 5u);
  auto out = r.add(parts[0]);
  EXPECT_FALSE(out.complete);
  ASSERT_EQ(out.dropped.size(), 1u);
  EXPECT_NE(out.dropped[0].reason.find("more than 4 parts"), std::string::npos);
  EXPECT_EQ(out.dropped[0].handles, (std::vector<std::uint64_t>{100}));
  EXPECT_EQ(r.inProgress(), 0u);
}

TEST_F(ReassemblyTest, OneNumberCannotHoldMoreThanItsShare) {
  Reassembler r(clock, with<std::size_t>(&ReassemblyLimits::maxMessagesPerNumber, 2));
  r.add(partsOf(message(300), options(1), kNumber, 10)[0]);
  clock.advance(seconds(1));
  r.add(partsOf(message(300), options(2), kNumber, 20)[0]);
  r.add(partsOf(message(300), options(1), "+4917000000", 30)[0]);
  auto out = r.add(partsOf(message(300), options(3), kNumber, 40)[0]);
  ASSERT_EQ(out.dropped.size(), 1u);
  EXPECT_EQ(out.dropped[0].handles, (std::vector<std::uint64_t>{10}));  // its own oldest
  EXPECT_NE(out.dropped[0].reason.find("pushed out"), std::string::npos);
  EXPECT_EQ(r.inProgress(), 3u);
}

TEST_F(ReassemblyTest, OverallLimitRefusesTheNewcomer) {
  Reassembler r(clock, with<std::size_t>(&ReassemblyLimits::maxMessages, 2));
  r.add(partsOf(message(300), options(1), "+1", 10)[0]);
  r.add(partsOf(message(300), options(1), "+2", 20)[0]);
  auto out = r.add(partsOf(message(300), options(1), "+3", 30)[0]);
  ASSERT_EQ(out.dropped.size(), 1u);
  EXPECT_EQ(out.dropped[0].handles, (std::vector<std::uint64_t>{30}));
  EXPECT_NE(out.dropped[0].reason.find("2 messages already in progress"), std::string::npos);
  EXPECT_EQ(r.inProgress(), 2u);
  // A part of a message in progress still gets in.
  auto more = r.add(partsOf(message(300), options(1), "+1", 11)[1]);
  EXPECT_TRUE(more.dropped.empty());
}

TEST_F(ReassemblyTest, ByteLimitDropsTheMessageThatWouldPassIt) {
  Reassembler r(clock, with<std::size_t>(&ReassemblyLimits::maxBytes, 300));
  auto a = partsOf(message(400), options(1), kNumber, 10);  // 134 + 134 + 132
  EXPECT_TRUE(r.add(a[0]).dropped.empty());
  EXPECT_TRUE(r.add(a[1]).dropped.empty());
  EXPECT_EQ(r.bufferedBytes(), 268u);
  // A new message's first part does not fit: refused.
  auto b = r.add(partsOf(message(300), options(2), "+2", 20)[0]);
  ASSERT_EQ(b.dropped.size(), 1u);
  EXPECT_EQ(b.dropped[0].handles, (std::vector<std::uint64_t>{20}));
  // The last part of the first does not fit either: the whole message goes.
  auto last = r.add(a[2]);
  EXPECT_FALSE(last.complete);
  ASSERT_EQ(last.dropped.size(), 1u);
  EXPECT_EQ(last.dropped[0].handles, (std::vector<std::uint64_t>{10, 11, 12}));
  EXPECT_NE(last.dropped[0].reason.find("buffer full"), std::string::npos);
  EXPECT_EQ(r.bufferedBytes(), 0u);
  EXPECT_EQ(r.inProgress(), 0u);
}

TEST_F(ReassemblyTest, GarbageHeaderIsDroppedWithItsReason) {
  Reassembler r(clock);
  auto out = r.add({kNumber, {0x05, 0x00, 0x03, 0x01, 0x02, 0x07}, message(10), 9});
  EXPECT_FALSE(out.complete);
  ASSERT_EQ(out.dropped.size(), 1u);
  EXPECT_EQ(out.dropped[0].handles, (std::vector<std::uint64_t>{9}));
  EXPECT_NE(out.dropped[0].reason.find("part 7 of 2"), std::string::npos) << out.dropped[0].reason;
  EXPECT_EQ(r.inProgress(), 0u);
}

TEST_F(ReassemblyTest, PortsMustAgreeAcrossParts) {
  Reassembler r(clock);
  auto withPorts = partsOf(message(300), options(5, Ports{1, 2}));
  auto without = partsOf(message(300), options(5));
  EXPECT_TRUE(r.add(withPorts[0]).dropped.empty());
  auto out = r.add(without[1]);
  ASSERT_EQ(out.dropped.size(), 1u);
  EXPECT_NE(out.dropped[0].reason.find("port addressing differs"), std::string::npos);
  EXPECT_EQ(r.inProgress(), 1u);
}

TEST_F(ReassemblyTest, EmptyMessagesAreDropped) {
  Reassembler r(clock);
  auto single = r.add({kNumber, {}, {}, 1});
  EXPECT_FALSE(single.complete);
  ASSERT_EQ(single.dropped.size(), 1u);
  EXPECT_EQ(r.add({kNumber, {0x05, 0x00, 0x03, 0x01, 0x02, 0x01}, {}, 2}).dropped.size(), 0u);
  auto both = r.add({kNumber, {0x05, 0x00, 0x03, 0x01, 0x02, 0x02}, {}, 3});
  EXPECT_FALSE(both.complete);
  ASSERT_EQ(both.dropped.size(), 1u);
  EXPECT_EQ(both.dropped[0].handles, (std::vector<std::uint64_t>{2, 3}));
}

}  // namespace
}  // namespace lwgate::modem
