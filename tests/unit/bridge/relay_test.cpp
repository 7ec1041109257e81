// Upstream requests to downlink requests and back, and the exchange table, with a manual clock.
#include "bridge/relay.h"

#include <gtest/gtest.h>

#include "gateway/lwm2m/link_format.h"
#include "tests/support/manual_clock.h"

namespace lwgate::bridge {
namespace {

using namespace std::chrono_literals;
using core::Method;
using core::Operation;

core::Registration registration(std::string links = "</1/0>,</3/0>", std::string version = "1.1") {
  core::Registration r;
  r.endpoint = "dev";
  r.version = std::move(version);
  auto parsed = lwm2m::parseObjectList(links, {});
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  if (parsed.ok()) r.objects = *parsed;
  return r;
}

UpstreamRequest req(Method m, std::vector<std::string> path) {
  UpstreamRequest r;
  r.method = m;
  r.uriPath = std::move(path);
  return r;
}

class RelayTest : public ::testing::Test {
 protected:
  Result<core::DownlinkRequest> map(const UpstreamRequest& r,
                                    const core::Registration& reg = registration()) {
    return toDownlink(r, reg, clock.wallNow(), clock.wallNow() + 60s);
  }
  testing::ManualClock clock;
};

TEST_F(RelayTest, EachMethodIsItsLwM2MOperation) {
  struct Case {
    UpstreamRequest in;
    Operation op;
    const char* path;
  };
  auto with = [](UpstreamRequest r, auto f) {
    f(r);
    return r;
  };
  const std::vector<Case> cases = {
      {req(Method::kGet, {"3", "0", "0"}), Operation::kRead, "/3/0/0"},
      {with(req(Method::kGet, {"3", "0"}), [](auto& r) { r.accept = 40; }), Operation::kDiscover,
       "/3/0"},
      {with(req(Method::kGet, {"3", "0", "9"}), [](auto& r) { r.observe = 0; }),
       Operation::kObserve, "/3/0/9"},
      {with(req(Method::kGet, {"3", "0", "9"}), [](auto& r) { r.observe = 1; }),
       Operation::kCancelObserve, "/3/0/9"},
      {with(req(Method::kPut, {"1", "0", "1"}),
            [](auto& r) {
              r.payload = "300";
              r.contentFormat = 0;
            }),
       Operation::kWrite, "/1/0/1"},
      {with(req(Method::kPut, {"3", "0", "9"}),
            [](auto& r) {
              r.uriQuery = {"pmin=10", "pmax=60"};
            }),
       Operation::kWriteAttributes, "/3/0/9"},
      {req(Method::kPost, {"3", "0", "4"}), Operation::kExecute, "/3/0/4"},
      {with(req(Method::kPost, {"3", "0"}),
            [](auto& r) {
              r.payload = "x";
              r.contentFormat = 11542;
            }),
       Operation::kWritePartial, "/3/0"},
      {with(req(Method::kPost, {"3"}),
            [](auto& r) {
              r.payload = "x";
              r.contentFormat = 11542;
            }),
       Operation::kCreate, "/3"},
      {req(Method::kDelete, {"3", "1"}), Operation::kDelete, "/3/1"},
      {with(req(Method::kFetch, {}),
            [](auto& r) {
              r.payload = "[{\"n\":\"/3/0/9\"}]";
              r.contentFormat = 110;
            }),
       Operation::kReadComposite, "/"},
      {with(req(Method::kIPatch, {}),
            [](auto& r) {
              r.payload = "[{\"n\":\"/1/0/1\",\"v\":60}]";
              r.contentFormat = 110;
            }),
       Operation::kWriteComposite, "/"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    auto r = map(c.in);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->operation, c.op);
    EXPECT_EQ(r->path, c.path);
    EXPECT_EQ(r->endpoint, "dev");
    EXPECT_EQ(r->deadline, clock.wallNow() + 60s);
  }
}

TEST_F(RelayTest, PayloadFormatsAndQueryPassThroughUntouched) {
  auto in = req(Method::kPut, {"1", "0", "1"});
  in.payload = std::string("\xc1\x01\x2c", 3);
  in.contentFormat = 11542;
  auto w = map(in);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->payload, (std::vector<std::uint8_t>{0xc1, 0x01, 0x2c}));
  EXPECT_EQ(w->contentFormat, 11542);
  auto read = req(Method::kGet, {"3", "0", "0"});
  read.accept = 0;
  EXPECT_EQ(map(read)->acceptFormat, 0);
  auto attrs = req(Method::kPut, {"3", "0", "9"});
  attrs.uriQuery = {"pmin=10", "pmax=60"};
  auto a = map(attrs);
  EXPECT_EQ(std::string(a->payload.begin(), a->payload.end()), "pmin=10&pmax=60");
  auto obs = req(Method::kGet, {"3", "0", "9"});
  obs.observe = 0;
  obs.uriQuery = {"pmin=5"};
  auto o = map(obs);
  EXPECT_EQ(std::string(o->payload.begin(), o->payload.end()), "pmin=5");
}

TEST_F(RelayTest, AlternatePathIsTakenOff) {
  auto reg = registration("</lwm2m>;rt=\"oma.lwm2m\",</lwm2m/3/0>");
  auto r = map(req(Method::kGet, {"lwm2m", "3", "0", "0"}), reg);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path, "/3/0/0");
  auto outside = map(req(Method::kGet, {"3", "0", "0"}), reg);
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().code, ErrorCode::kNotFound);
}

TEST_F(RelayTest, WhatIsNoLwM2MOperationIsRefusedWithAReason) {
  struct Case {
    UpstreamRequest in;
    ErrorCode code;
    const char* why;
  };
  auto withPayload = req(Method::kGet, {"3", "0", "0"});
  withPayload.payload = "x";
  auto badObserve = req(Method::kGet, {"3", "0", "0"});
  badObserve.observe = 2;
  auto observePut = req(Method::kPut, {"3", "0", "0"});
  observePut.observe = 0;
  observePut.payload = "1";
  auto big = req(Method::kPut, {"1", "0", "1"});
  big.payload = std::string(65537, 'x');
  auto composite10 = req(Method::kFetch, {});
  composite10.payload = "[]";
  composite10.contentFormat = 110;
  const std::vector<Case> cases = {
      {req(Method::kGet, {"rd"}), ErrorCode::kBadRequest, ""},
      {req(Method::kGet, {"3", "x"}), ErrorCode::kBadRequest, ""},
      {req(Method::kGet, {}), ErrorCode::kBadRequest, "read needs"},
      {req(Method::kPatch, {"3", "0"}), ErrorCode::kBadRequest, "PATCH"},
      {req(Method::kPost, {"3", "0", "4", "1"}), ErrorCode::kBadRequest, "partial write"},
      {req(Method::kDelete, {"3", "0", "1"}), ErrorCode::kBadRequest, "delete takes"},
      {req(Method::kPut, {"3", "0", "1"}), ErrorCode::kBadRequest, "needs a payload"},
      {withPayload, ErrorCode::kBadRequest, "no payload"},
      {badObserve, ErrorCode::kBadRequest, "Observe must be 0 or 1"},
      {observePut, ErrorCode::kBadRequest, "Observe goes with GET or FETCH"},
      {big, ErrorCode::kTooLarge, "at most 65536"},
  };
  for (const auto& c : cases) {
    auto r = map(c.in);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, c.code) << r.error().message;
    EXPECT_NE(r.error().message.find(c.why), std::string::npos) << r.error().message;
  }
  auto r = map(composite10, registration("</3/0>", "1.0"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("LwM2M 1.1"), std::string::npos);
}

TEST(AnswerFor, TheDevicesAnswerOrGatewayTimeout) {
  core::DownlinkRequest r;
  r.state = core::RequestState::kDone;
  r.responseCode = 0x45;
  r.responsePayload = {'4', '2'};
  r.responseFormat = 0;
  auto a = answerFor(r);
  EXPECT_EQ(a.code, 0x45);
  EXPECT_EQ(a.payload, r.responsePayload);
  EXPECT_EQ(a.contentFormat, 0);
  r.responseCode = 0x84;  // a CoAP error from the device is its answer too
  r.responsePayload.clear();
  r.responseFormat.reset();
  EXPECT_EQ(answerFor(r).code, 0x84);
  for (auto state : {core::RequestState::kExpired, core::RequestState::kFailed,
                     core::RequestState::kCancelled}) {
    core::DownlinkRequest f;
    f.state = state;
    f.reason = "why";
    auto g = answerFor(f);
    EXPECT_EQ(g.code, kGatewayTimeout);
    EXPECT_TRUE(g.payload.empty());
    EXPECT_NE(g.diagnostic.find("(why)"), std::string::npos) << g.diagnostic;
  }
}

TEST(ExchangesTest, DeadlinesInOrderAndTakenOnce) {
  testing::ManualClock clock;
  Exchanges x(clock);
  x.add({7, "s", "d1", {1}, clock.wallNow() + 30s, false});
  x.add({8, "s", "d2", {2}, clock.wallNow() + 10s, true});
  x.add({9, "t", "d1", {3}, clock.wallNow() + 20s, false});
  EXPECT_EQ(x.size(), 3u);
  EXPECT_EQ(x.nextDeadline(), clock.steadyNow() + 10s);
  EXPECT_EQ(x.of("s", "d1"), (std::vector<std::int64_t>{7}));
  clock.advance(20s);
  EXPECT_EQ(x.due(), (std::vector<std::int64_t>{8, 9}));
  auto taken = x.take(8);
  ASSERT_TRUE(taken);
  EXPECT_TRUE(taken->observe);
  EXPECT_EQ(taken->token, (Token{2}));
  EXPECT_FALSE(x.take(8));
  EXPECT_EQ(x.due(), (std::vector<std::int64_t>{9}));
  EXPECT_EQ(x.find(7)->device, "d1");
  // A deadline stored as wall time before a restart is carried onto the steady clock.
  clock.stepWall(5s);
  x.add({10, "s", "d3", {4}, clock.wallNow() + 1s, false});
  EXPECT_EQ(x.nextDeadline(), clock.steadyNow());  // 9 is due now
  x.take(9);
  EXPECT_EQ(x.nextDeadline(), clock.steadyNow() + 1s);
}

// RFC 7641 3.4 / 4.4: 24-bit Observe numbers from ids that only grow; a wrap stays "newer" for
// the server because consecutive ones are close.
TEST(ObserveNumber, LowTwentyFourBitsOfTheNotificationId) {
  EXPECT_EQ(observeNumber(1), 1u);
  EXPECT_EQ(observeNumber(0xffffff), 0xffffffu);
  EXPECT_EQ(observeNumber(0x1000000), 0u);
  EXPECT_EQ(observeNumber(0x1000005), 5u);
}

// A stored Send goes upstream as the device sent it: POST /dp, its format and payload.
TEST(ForwardedSend, PostToDpWithTheDevicesFormatAndPayload) {
  StoredNotification send{41, std::uint16_t{112}, {0x81, 0xa2}};
  core::OutgoingRequest r = forwardedSend(send);
  EXPECT_EQ(r.method, core::Method::kPost);
  EXPECT_EQ(r.uriPath, std::vector<std::string>{"dp"});
  EXPECT_TRUE(r.uriQuery.empty());
  EXPECT_EQ(r.contentFormat, std::optional<std::uint16_t>(112));
  EXPECT_FALSE(r.accept);
  EXPECT_FALSE(r.observe);
  EXPECT_EQ(r.payload, send.payload);
}

}  // namespace
}  // namespace lwgate::bridge
