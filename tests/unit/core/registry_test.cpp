#include "gateway/core/registry.h"

#include <gtest/gtest.h>

#include "tests/support/manual_clock.h"
#include "tests/unit/core/fake_store.h"

namespace lwgate::core {
namespace {

using std::chrono::seconds;

using testing::FakeStore;

lwm2m::RegisterParams params(std::string ep, std::optional<std::uint32_t> lt = 300) {
  lwm2m::RegisterParams p;
  p.endpoint = std::move(ep);
  p.lifetime = lt;
  p.binding = {"U", false, "U"};
  return p;
}

lwm2m::ObjectList objects(std::initializer_list<std::uint16_t> ids) {
  lwm2m::ObjectList list;
  for (auto id : ids) list.links.push_back({id, 0, std::nullopt});
  return list;
}

const Peer kPeer{"udp", "127.0.0.1", 40000};

class RegistryTest : public ::testing::Test {
 protected:
  Registry makeRegistry(RegistryLimits limits = {}) {
    return Registry(clock, store, limits, [this] { return "loc" + std::to_string(++counter); });
  }
  testing::ManualClock clock;
  FakeStore store;
  int counter = 0;
};

TEST_F(RegistryTest, RegisterStoresEverythingAndIssuesLocation) {
  Registry reg = makeRegistry();
  auto p = params("dev1", 120);
  p.version = "1.1";
  p.binding = {"U", true, "U"};
  p.smsNumber = "+4915100000";
  auto r = reg.registerClient(p, objects({1, 3}), kPeer);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Registration& got = *r->registration;
  EXPECT_EQ(got.location, "loc1");
  EXPECT_EQ(got.endpoint, "dev1");
  EXPECT_EQ(got.lifetime, 120u);
  EXPECT_FALSE(got.lifetimeSyncPending);
  EXPECT_EQ(got.version, "1.1");
  EXPECT_TRUE(got.queueMode());
  EXPECT_EQ(got.smsNumber, "+4915100000");
  EXPECT_EQ(got.objects, objects({1, 3}));
  EXPECT_EQ(got.peer, kPeer);
  EXPECT_EQ(got.registeredAt, clock.wallNow());
  EXPECT_FALSE(r->replaced.has_value());
  ASSERT_EQ(store.rows.count("loc1"), 1u);
  EXPECT_EQ(store.rows["loc1"].endpoint, "dev1");
  EXPECT_EQ(reg.findByEndpoint("dev1"), r->registration);
}

TEST_F(RegistryTest, MissingLifetimeUsesDefaultAndAsksForSync) {
  Registry reg = makeRegistry();
  auto r = reg.registerClient(params("dev1", std::nullopt), {}, kPeer);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->registration->lifetime, 86400u);
  EXPECT_TRUE(r->registration->lifetimeSyncPending);
  // An Update with lt= settles it.
  lwm2m::UpdateParams up;
  up.lifetime = 600;
  auto u = reg.update("loc1", up, std::nullopt, kPeer);
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE((*u)->lifetimeSyncPending);
  EXPECT_EQ((*u)->lifetime, 600u);
}

TEST_F(RegistryTest, AdoptedLifetimeCountsFromTheLastRegisterOrUpdate) {
  Registry reg = makeRegistry();
  ASSERT_TRUE(reg.registerClient(params("dev1", std::nullopt), {}, kPeer).ok());
  clock.advance(seconds(100));
  auto adopted = reg.adoptLifetime("loc1", 300);
  ASSERT_TRUE(adopted.ok());
  EXPECT_EQ((*adopted)->lifetime, 300u);
  EXPECT_FALSE((*adopted)->lifetimeSyncPending);
  EXPECT_EQ(store.rows["loc1"].lifetime, 300u);
  EXPECT_FALSE(store.rows["loc1"].lifetimeSyncPending);
  EXPECT_EQ(reg.nextExpiry(), clock.steadyNow() + seconds(200));
  EXPECT_EQ(reg.adoptLifetime("nope", 300).error().code, ErrorCode::kNotFound);
  store.fail = true;
  EXPECT_FALSE(reg.adoptLifetime("loc1", 5).ok());
  EXPECT_EQ(reg.findByLocation("loc1")->lifetime, 300u);
}

TEST_F(RegistryTest, ReRegisterReplacesOldLocation) {
  Registry reg = makeRegistry();
  ASSERT_TRUE(reg.registerClient(params("dev1"), objects({3}), kPeer).ok());
  Peer moved{"udp", "127.0.0.2", 41000};
  auto r = reg.registerClient(params("dev1"), objects({3, 5}), moved);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->registration->location, "loc2");
  ASSERT_TRUE(r->replaced.has_value());
  EXPECT_EQ(r->replaced->location, "loc1");
  EXPECT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg.findByLocation("loc1"), nullptr);
  EXPECT_EQ(reg.findByEndpoint("dev1")->peer, moved);
  EXPECT_EQ(store.rows.size(), 1u);
  // The old location is gone: its Update gets kNotFound.
  auto u = reg.update("loc1", {}, std::nullopt, kPeer);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, ErrorCode::kNotFound);
}

TEST_F(RegistryTest, LifetimeExpiryRemovesRegistration) {
  Registry reg = makeRegistry();
  ASSERT_TRUE(reg.registerClient(params("dev1", 60), {}, kPeer).ok());
  ASSERT_TRUE(reg.registerClient(params("dev2", 120), {}, kPeer).ok());
  EXPECT_EQ(reg.nextExpiry(), clock.steadyNow() + seconds(60));
  clock.advance(seconds(59));
  EXPECT_TRUE(reg.expire().removed.empty());
  clock.advance(seconds(1));
  auto e = reg.expire();
  ASSERT_EQ(e.removed.size(), 1u);
  EXPECT_EQ(e.removed[0].endpoint, "dev1");
  EXPECT_EQ(store.rows.count("loc1"), 0u);
  EXPECT_EQ(reg.nextExpiry(), clock.steadyNow() + seconds(60));
  // Update after expiry: 4.04 so the client registers again (TS 6.2).
  EXPECT_EQ(reg.update("loc1", {}, std::nullopt, kPeer).error().code, ErrorCode::kNotFound);
}

TEST_F(RegistryTest, UpdateRestartsLifetimeAndKeepsAbsentFields) {
  Registry reg = makeRegistry();
  auto p = params("dev1", 60);
  p.smsNumber = "+111";
  ASSERT_TRUE(reg.registerClient(p, objects({3}), kPeer).ok());
  clock.advance(seconds(50));
  Peer moved{"udp", "::1", 5000};
  auto u = reg.update("loc1", {}, std::nullopt, moved);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ((*u)->smsNumber, "+111");
  EXPECT_EQ((*u)->objects, objects({3}));
  EXPECT_EQ((*u)->peer, moved);
  EXPECT_EQ((*u)->updatedAt, clock.wallNow());
  EXPECT_EQ(store.rows["loc1"].peer, moved);
  clock.advance(seconds(59));
  EXPECT_TRUE(reg.expire().removed.empty());
  clock.advance(seconds(1));
  EXPECT_EQ(reg.expire().removed.size(), 1u);
}

TEST_F(RegistryTest, UpdateChangesBindingObjectsAndQueueMode) {
  Registry reg = makeRegistry();
  ASSERT_TRUE(reg.registerClient(params("dev1"), objects({3}), kPeer).ok());
  lwm2m::UpdateParams onlyQ;
  onlyQ.binding = lwm2m::Binding{"", true, ""};
  auto u = reg.update("loc1", onlyQ, objects({3, 4}), kPeer);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ((*u)->binding.transports, "U");
  EXPECT_TRUE((*u)->queueMode());
  EXPECT_EQ((*u)->objects, objects({3, 4}));
  lwm2m::UpdateParams sms;
  sms.binding = lwm2m::Binding{"US", false, "US"};
  u = reg.update("loc1", sms, std::nullopt, kPeer);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ((*u)->binding.text, "US");
  EXPECT_FALSE((*u)->queueMode());
}

TEST_F(RegistryTest, DeregisterRemovesAndSecondTimeIsNotFound) {
  Registry reg = makeRegistry();
  ASSERT_TRUE(reg.registerClient(params("dev1"), {}, kPeer).ok());
  auto d = reg.deregister("loc1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->endpoint, "dev1");
  EXPECT_EQ(reg.size(), 0u);
  EXPECT_FALSE(reg.nextExpiry().has_value());
  EXPECT_EQ(reg.deregister("loc1").error().code, ErrorCode::kNotFound);
}

TEST_F(RegistryTest, StoreFailureChangesNothing) {
  Registry reg = makeRegistry();
  ASSERT_TRUE(reg.registerClient(params("dev1", 60), objects({3}), kPeer).ok());
  store.fail = true;
  auto r = reg.registerClient(params("dev2"), {}, kPeer);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kStorage);
  EXPECT_EQ(reg.findByEndpoint("dev2"), nullptr);
  lwm2m::UpdateParams up;
  up.lifetime = 999;
  EXPECT_FALSE(reg.update("loc1", up, std::nullopt, kPeer).ok());
  EXPECT_EQ(reg.findByLocation("loc1")->lifetime, 60u);
  EXPECT_FALSE(reg.deregister("loc1").ok());
  EXPECT_NE(reg.findByLocation("loc1"), nullptr);
  // A re-registration that cannot be stored keeps the old registration in place.
  EXPECT_FALSE(reg.registerClient(params("dev1"), {}, kPeer).ok());
  EXPECT_EQ(reg.findByEndpoint("dev1")->location, "loc1");
}

TEST_F(RegistryTest, DeviceLimitRejectsNewEndpointsButNotReRegistration) {
  Registry reg = makeRegistry({.maxDevices = 2});
  ASSERT_TRUE(reg.registerClient(params("a"), {}, kPeer).ok());
  ASSERT_TRUE(reg.registerClient(params("b"), {}, kPeer).ok());
  auto r = reg.registerClient(params("c"), {}, kPeer);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kLimitReached);
  EXPECT_EQ(store.rows.size(), 2u);
  EXPECT_TRUE(reg.registerClient(params("a"), {}, kPeer).ok());
  ASSERT_TRUE(reg.deregister("loc2").ok());
  EXPECT_TRUE(reg.registerClient(params("c"), {}, kPeer).ok());
}

TEST_F(RegistryTest, RestoreContinuesLifetimeFromStoredUpdateTime) {
  {
    Registry before = makeRegistry();
    ASSERT_TRUE(before.registerClient(params("short", 100), {}, kPeer).ok());
    ASSERT_TRUE(before.registerClient(params("long", 1000), {}, kPeer).ok());
  }
  // The gateway was down for 150 s: "short" ran out meanwhile, "long" has 850 s left.
  clock.stepWall(seconds(150));
  Registry after = makeRegistry();
  auto restored = after.restore();
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->active, 1u);
  ASSERT_EQ(restored->expired.size(), 1u);
  EXPECT_EQ(restored->expired[0].endpoint, "short");
  EXPECT_EQ(store.rows.size(), 1u);
  EXPECT_EQ(after.nextExpiry(), clock.steadyNow() + seconds(850));
  ASSERT_NE(after.findByLocation("loc2"), nullptr);
  // An Update to the location issued before the restart works.
  EXPECT_TRUE(after.update("loc2", {}, std::nullopt, kPeer).ok());
}

TEST_F(RegistryTest, RestoreAfterWallClockWentBackGrantsAtMostOneLifetime) {
  {
    Registry before = makeRegistry();
    ASSERT_TRUE(before.registerClient(params("dev", 100), {}, kPeer).ok());
  }
  clock.stepWall(-std::chrono::hours(24 * 365));
  Registry after = makeRegistry();
  ASSERT_TRUE(after.restore().ok());
  EXPECT_EQ(after.nextExpiry(), clock.steadyNow() + seconds(100));
}

TEST_F(RegistryTest, ExpiryIsOnTheSteadyClockNotTheWallClock) {
  Registry reg = makeRegistry();
  ASSERT_TRUE(reg.registerClient(params("dev", 100), {}, kPeer).ok());
  clock.stepWall(std::chrono::hours(24 * 365 * 50));  // NTP sync on a router without RTC
  EXPECT_TRUE(reg.expire().removed.empty());
}

TEST_F(RegistryTest, TouchOnlyMovesLastSeenForward) {
  Registry reg = makeRegistry();
  ASSERT_TRUE(reg.registerClient(params("dev"), {}, kPeer).ok());
  const WallTime t0 = clock.wallNow();
  reg.touch("loc1", t0 + seconds(5));
  reg.touch("loc1", t0 + seconds(1));
  reg.touch("unknown", t0);
  EXPECT_EQ(reg.findByLocation("loc1")->lastSeen, t0 + seconds(5));
}

}  // namespace
}  // namespace lwgate::core

namespace lwgate::core {
namespace {

TEST_F(RegistryTest, FindByPeerFollowsUpdatesAndRemovals) {
  Registry reg = makeRegistry();
  const Peer other{"udp", "127.0.0.1", 40001};
  const Peer dtls{"dtls", "127.0.0.1", 40000};
  ASSERT_TRUE(reg.registerClient(params("dev1"), {}, kPeer).ok());  // loc1
  ASSERT_TRUE(reg.registerClient(params("dev2"), {}, other).ok());  // loc2
  ASSERT_NE(reg.findByPeer(kPeer), nullptr);
  EXPECT_EQ(reg.findByPeer(kPeer)->endpoint, "dev1");
  EXPECT_EQ(reg.findByPeer(other)->endpoint, "dev2");
  // The transport is part of who sent it: the same address and port over DTLS is someone else.
  EXPECT_EQ(reg.findByPeer(dtls), nullptr);

  // dev1 moves (an Update from its new address): the old address names nobody any more.
  const Peer moved{"udp", "127.0.0.1", 40002};
  ASSERT_TRUE(reg.update("loc1", {}, std::nullopt, moved).ok());
  EXPECT_EQ(reg.findByPeer(kPeer), nullptr);
  EXPECT_EQ(reg.findByPeer(moved)->endpoint, "dev1");

  // Two registrations at one peer: the one updated last.
  clock.advance(seconds(5));
  ASSERT_TRUE(reg.registerClient(params("dev3"), {}, moved).ok());  // loc3
  EXPECT_EQ(reg.findByPeer(moved)->endpoint, "dev3");
  clock.advance(seconds(5));
  ASSERT_TRUE(reg.update("loc1", {}, std::nullopt, moved).ok());
  EXPECT_EQ(reg.findByPeer(moved)->endpoint, "dev1");

  ASSERT_TRUE(reg.deregister("loc1").ok());
  EXPECT_EQ(reg.findByPeer(moved)->endpoint, "dev3");
  ASSERT_TRUE(reg.deregister("loc3").ok());
  EXPECT_EQ(reg.findByPeer(moved), nullptr);
  // Expiry removes it from the index too.
  clock.advance(seconds(301));
  reg.expire();
  EXPECT_EQ(reg.findByPeer(other), nullptr);
}

}  // namespace
}  // namespace lwgate::core
