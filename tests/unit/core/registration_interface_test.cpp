#include "gateway/core/registration_interface.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "tests/support/manual_clock.h"
#include "tests/unit/core/fake_store.h"

namespace lwgate::core {

// Readable failure output: "2.01" instead of a byte dump.
static void PrintTo(Code code, std::ostream* os) {
  *os << codeText(code);
}

namespace {

using testing::FakeStore;

const Peer kPeer{"udp", "127.0.0.1", 40000};
constexpr std::string_view kObjects = "</1/0>,</3/0>";

lwm2m::ObjectList objects(std::initializer_list<std::pair<std::uint16_t, std::uint16_t>> links) {
  lwm2m::ObjectList list;
  for (auto [o, i] : links) list.links.push_back({o, i, std::nullopt});
  return list;
}

Request registerRequest(std::vector<std::string_view> query = {"ep=dev1", "lt=300"},
                        std::string_view payload = kObjects) {
  Request r;
  r.method = Method::kPost;
  r.uriPath = {"rd"};
  r.uriQuery = std::move(query);
  r.contentFormat = kFormatLinkFormat;
  r.payload = payload;
  r.peer = kPeer;
  return r;
}

Request updateRequest(std::string_view location, std::vector<std::string_view> query = {},
                      std::string_view payload = {}, Method method = Method::kPost) {
  Request r;
  r.method = method;
  r.uriPath = {"rd", location};
  r.uriQuery = std::move(query);
  if (!payload.empty()) r.contentFormat = kFormatLinkFormat;
  r.payload = payload;
  r.peer = kPeer;
  return r;
}

Request deleteRequest(std::string_view location) {
  Request r;
  r.method = Method::kDelete;
  r.uriPath = {"rd", location};
  r.peer = kPeer;
  return r;
}

// Everything about a registration that a request could change, as one comparable line.
std::string describe(const Registration& r) {
  return r.location + " ep=" + r.endpoint + " lt=" + std::to_string(r.lifetime) +
         " sync=" + std::to_string(r.lifetimeSyncPending) + " v=" + r.version +
         " b=" + r.binding.text + "/" + r.binding.transports + "/" +
         std::to_string(r.binding.queueMode) + " sms=" + r.smsNumber +
         " objects=" + lwm2m::formatObjectList(r.objects) + " peer=" + r.peer.transport + ":" +
         r.peer.address + ":" + std::to_string(r.peer.port) +
         " reg=" + std::to_string(toUnixMillis(r.registeredAt)) +
         " upd=" + std::to_string(toUnixMillis(r.updatedAt)) +
         " seen=" + std::to_string(toUnixMillis(r.lastSeen)) +
         " exp=" + std::to_string(r.expiresAt.time_since_epoch().count());
}

class RegistrationInterfaceTest : public ::testing::Test {
 protected:
  RegistrationInterfaceTest()
      : registry(clock, store, {}, [this] { return "loc" + std::to_string(++counter); }),
        rd(registry, {}) {}

  // Registers dev1 and returns its location.
  std::string registerDev1() {
    Response r = rd.handle(registerRequest());
    EXPECT_EQ(r.code, Code::kCreated) << r.payload;
    return r.locationPath.size() == 2 ? r.locationPath[1] : std::string();
  }

  // What the store and the registry hold, to show that a failed request changed nothing.
  struct State {
    std::vector<std::string> stored;
    std::vector<std::string> registered;
    bool operator==(const State&) const = default;
  };
  State state() const {
    State s;
    for (const auto& [loc, reg] : store.rows) s.stored.push_back(describe(reg));
    registry.forEach([&](const Registration& reg) { s.registered.push_back(describe(reg)); });
    std::sort(s.registered.begin(), s.registered.end());
    return s;
  }

  // Checks an error answer: its code, a diagnostic payload containing `needle`, and that the
  // store and the registry are as they were before.
  void expectRejected(const Request& request, Code code, std::string_view needle) {
    const State before = state();
    Response r = rd.handle(request);
    EXPECT_EQ(r.code, code) << r.payload;
    EXPECT_NE(r.payload.find(needle), std::string::npos)
        << "payload \"" << r.payload << "\" does not contain \"" << needle << "\"";
    EXPECT_TRUE(r.locationPath.empty());
    EXPECT_TRUE(state() == before) << "the request changed the store or the registry";
  }

  lwgate::testing::ManualClock clock;
  FakeStore store;
  int counter = 0;
  Registry registry;
  RegistrationInterface rd;
};

TEST(RegistrationInterfaceHandles, OnlyPathsUnderRd) {
  Request r;
  r.uriPath = {"rd"};
  EXPECT_TRUE(RegistrationInterface::handles(r));
  r.uriPath = {"rd", "loc1"};
  EXPECT_TRUE(RegistrationInterface::handles(r));
  r.uriPath = {"rd", "loc1", "x"};
  EXPECT_TRUE(RegistrationInterface::handles(r));
  r.uriPath = {};
  EXPECT_FALSE(RegistrationInterface::handles(r));
  r.uriPath = {"dp"};
  EXPECT_FALSE(RegistrationInterface::handles(r));
  r.uriPath = {"bs"};
  EXPECT_FALSE(RegistrationInterface::handles(r));
  r.uriPath = {"rdx"};
  EXPECT_FALSE(RegistrationInterface::handles(r));
  r.uriPath = {"RD"};
  EXPECT_FALSE(RegistrationInterface::handles(r));
  r.uriPath = {"", "rd"};
  EXPECT_FALSE(RegistrationInterface::handles(r));
}

TEST_F(RegistrationInterfaceTest, RegisterAnswersCreatedWithLocation) {
  Response r = rd.handle(registerRequest());
  EXPECT_EQ(r.code, Code::kCreated) << r.payload;
  EXPECT_EQ(r.locationPath, (std::vector<std::string>{"rd", "loc1"}));
  EXPECT_TRUE(r.payload.empty());
  const Registration* reg = registry.findByLocation("loc1");
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->endpoint, "dev1");
  EXPECT_EQ(reg->lifetime, 300u);
  EXPECT_EQ(reg->objects, objects({{1, 0}, {3, 0}}));
  EXPECT_EQ(reg->peer, kPeer);
  ASSERT_EQ(store.rows.count("loc1"), 1u);
  EXPECT_EQ(store.rows["loc1"].endpoint, "dev1");
  EXPECT_EQ(store.rows["loc1"].objects, objects({{1, 0}, {3, 0}}));
}

TEST_F(RegistrationInterfaceTest, ReRegisterGetsNewLocationAndOldOneIsGone) {
  const std::string first = registerDev1();
  Response r = rd.handle(registerRequest());
  EXPECT_EQ(r.code, Code::kCreated);
  EXPECT_EQ(r.locationPath, (std::vector<std::string>{"rd", "loc2"}));
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(store.rows.size(), 1u);
  expectRejected(updateRequest(first), Code::kNotFound, "register again");
}

TEST_F(RegistrationInterfaceTest, UpdateByPostAnswersChanged) {
  const std::string loc = registerDev1();
  clock.advance(std::chrono::seconds(10));
  Request u = updateRequest(loc, {"lt=600"});
  u.peer = Peer{"udp", "127.0.0.2", 41000};
  Response r = rd.handle(u);
  EXPECT_EQ(r.code, Code::kChanged) << r.payload;
  EXPECT_TRUE(r.payload.empty());
  EXPECT_TRUE(r.locationPath.empty());
  EXPECT_EQ(registry.findByLocation(loc)->lifetime, 600u);
  EXPECT_EQ(registry.findByLocation(loc)->peer, u.peer);
  EXPECT_EQ(registry.findByLocation(loc)->updatedAt, clock.wallNow());
  EXPECT_EQ(store.rows[loc].lifetime, 600u);
  EXPECT_EQ(store.rows[loc].peer, u.peer);
}

TEST_F(RegistrationInterfaceTest, UpdateByPutAnswersChanged) {
  const std::string loc = registerDev1();
  Response r = rd.handle(updateRequest(loc, {"lt=700"}, {}, Method::kPut));
  EXPECT_EQ(r.code, Code::kChanged) << r.payload;
  EXPECT_EQ(registry.findByLocation(loc)->lifetime, 700u);
  EXPECT_EQ(store.rows[loc].lifetime, 700u);
}

TEST_F(RegistrationInterfaceTest, UpdateWithPayloadReplacesObjects) {
  const std::string loc = registerDev1();
  Response r = rd.handle(updateRequest(loc, {}, "</3/0>,</5/0>"));
  EXPECT_EQ(r.code, Code::kChanged) << r.payload;
  EXPECT_EQ(registry.findByLocation(loc)->objects, objects({{3, 0}, {5, 0}}));
  EXPECT_EQ(store.rows[loc].objects, objects({{3, 0}, {5, 0}}));
}

TEST_F(RegistrationInterfaceTest, UpdateWithoutPayloadKeepsObjects) {
  const std::string loc = registerDev1();
  Response r = rd.handle(updateRequest(loc, {"lt=600"}));
  EXPECT_EQ(r.code, Code::kChanged) << r.payload;
  EXPECT_EQ(registry.findByLocation(loc)->objects, objects({{1, 0}, {3, 0}}));
  EXPECT_EQ(store.rows[loc].objects, objects({{1, 0}, {3, 0}}));
  // An empty payload that still names link-format keeps them too.
  Request u = updateRequest(loc);
  u.contentFormat = kFormatLinkFormat;
  EXPECT_EQ(rd.handle(u).code, Code::kChanged);
  EXPECT_EQ(registry.findByLocation(loc)->objects, objects({{1, 0}, {3, 0}}));
}

TEST_F(RegistrationInterfaceTest, DeleteAnswersDeleted) {
  const std::string loc = registerDev1();
  Response r = rd.handle(deleteRequest(loc));
  EXPECT_EQ(r.code, Code::kDeleted) << r.payload;
  EXPECT_TRUE(r.payload.empty());
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_TRUE(store.rows.empty());
  // A second De-register finds nothing.
  expectRejected(deleteRequest(loc), Code::kNotFound, "no registration at this location");
}

TEST_F(RegistrationInterfaceTest, UnknownLocationIsNotFound) {
  registerDev1();
  expectRejected(updateRequest("nope"), Code::kNotFound,
                 "no registration at this location; register again");
  expectRejected(updateRequest("nope", {}, {}, Method::kPut), Code::kNotFound,
                 "no registration at this location; register again");
  expectRejected(deleteRequest("nope"), Code::kNotFound, "no registration at this location");
}

TEST_F(RegistrationInterfaceTest, UnknownLocationWinsOverMalformedUpdate) {
  registerDev1();
  expectRejected(updateRequest("nope", {"lt=abc"}), Code::kNotFound, "register again");
  expectRejected(updateRequest("nope", {"ep=dev1"}), Code::kNotFound, "register again");
  expectRejected(updateRequest("nope", {}, "not link format"), Code::kNotFound, "register again");
  Request wrongFormat = updateRequest("nope", {}, kObjects);
  wrongFormat.contentFormat = 0;
  expectRejected(wrongFormat, Code::kNotFound, "register again");
}

TEST_F(RegistrationInterfaceTest, OtherMethodsOnRdAreNotAllowed) {
  Request get = registerRequest();
  get.method = Method::kGet;
  expectRejected(get, Code::kMethodNotAllowed, "only POST (Register) is allowed on /rd");
  Request del = registerRequest();
  del.method = Method::kDelete;
  expectRejected(del, Code::kMethodNotAllowed, "only POST (Register) is allowed on /rd");
  Request put = registerRequest();
  put.method = Method::kPut;
  expectRejected(put, Code::kMethodNotAllowed, "only POST (Register) is allowed on /rd");
  EXPECT_EQ(registry.size(), 0u);
}

TEST_F(RegistrationInterfaceTest, OtherMethodsOnLocationAreNotAllowed) {
  const std::string loc = registerDev1();
  Request get = updateRequest(loc);
  get.method = Method::kGet;
  expectRejected(get, Code::kMethodNotAllowed, "use POST (Update) or DELETE (De-register)");
  Request fetch = updateRequest(loc);
  fetch.method = Method::kFetch;
  expectRejected(fetch, Code::kMethodNotAllowed, "use POST (Update) or DELETE (De-register)");
}

TEST_F(RegistrationInterfaceTest, DeeperPathIsNotFound) {
  const std::string loc = registerDev1();
  Request deep = updateRequest(loc);
  deep.uriPath = {"rd", "x", "y"};
  expectRejected(deep, Code::kNotFound, "no such registration resource");
  // Even below a real location, and for DELETE.
  deep.uriPath = {"rd", loc, "y"};
  deep.method = Method::kDelete;
  expectRejected(deep, Code::kNotFound, "no such registration resource");
  EXPECT_NE(registry.findByLocation(loc), nullptr);
}

TEST_F(RegistrationInterfaceTest, ContentFormatOtherThanLinkFormatIsUnsupported) {
  Request r = registerRequest();
  r.contentFormat = 0;
  expectRejected(r, Code::kUnsupportedContentFormat,
                 "payload must be application/link-format (40), got content format 0");
  r.contentFormat = 11543;  // LwM2M JSON
  expectRejected(r, Code::kUnsupportedContentFormat, "got content format 11543");

  const std::string loc = registerDev1();
  Request u = updateRequest(loc, {}, "</3/0>,</5/0>");
  u.contentFormat = 60;
  expectRejected(u, Code::kUnsupportedContentFormat, "got content format 60");
}

TEST_F(RegistrationInterfaceTest, PayloadOverMaxPayloadIsTooLarge) {
  rd.setLimits({.maxPayload = kObjects.size() - 1, .maxObjects = 1024});
  expectRejected(registerRequest(), Code::kRequestEntityTooLarge,
                 "object list of 13 bytes is over the limit of 12");
  rd.setLimits({.maxPayload = kObjects.size(), .maxObjects = 1024});  // exactly at the limit
  const std::string loc = registerDev1();
  rd.setLimits({.maxPayload = 5, .maxObjects = 1024});
  expectRejected(updateRequest(loc, {}, "</3/0>,</5/0>"), Code::kRequestEntityTooLarge,
                 "over the limit of 5");
}

TEST_F(RegistrationInterfaceTest, MoreLinksThanMaxObjectsIsTooLarge) {
  rd.setLimits({.maxPayload = 16384, .maxObjects = 1});
  const State before = state();
  Response r = rd.handle(registerRequest());
  EXPECT_EQ(r.code, Code::kRequestEntityTooLarge) << r.payload;
  EXPECT_FALSE(r.payload.empty());
  EXPECT_TRUE(state() == before);
  rd.setLimits({.maxPayload = 16384, .maxObjects = 2});  // exactly at the limit
  const std::string loc = registerDev1();
  Response u = rd.handle(updateRequest(loc, {}, "</3/0>,</5/0>,</6/0>"));
  EXPECT_EQ(u.code, Code::kRequestEntityTooLarge) << u.payload;
  EXPECT_EQ(registry.findByLocation(loc)->objects, objects({{1, 0}, {3, 0}}));
}

TEST_F(RegistrationInterfaceTest, UnsupportedVersionIsPreconditionFailed) {
  expectRejected(registerRequest({"ep=dev1", "lt=300", "lwm2m=1.9"}), Code::kPreconditionFailed,
                 "1.9");
  // A supported one registers.
  Response ok = rd.handle(registerRequest({"ep=dev1", "lt=300", "lwm2m=1.1"}));
  EXPECT_EQ(ok.code, Code::kCreated) << ok.payload;
  EXPECT_EQ(registry.findByEndpoint("dev1")->version, "1.1");
}

TEST_F(RegistrationInterfaceTest, MalformedRegisterIsBadRequest) {
  expectRejected(registerRequest({"lt=300"}), Code::kBadRequest, "ep");
  expectRejected(registerRequest({"ep=dev1", "lt=0"}), Code::kBadRequest, "invalid lifetime");
  expectRejected(registerRequest({"ep=dev1", "xyz=1"}), Code::kBadRequest,
                 "unknown registration parameter");
  expectRejected(registerRequest({"ep=dev1"}, "</0/0>"), Code::kBadRequest, "");
  expectRejected(registerRequest({"ep=dev1"}, "garbage"), Code::kBadRequest, "");
}

TEST_F(RegistrationInterfaceTest, MalformedUpdateOfKnownLocationIsBadRequest) {
  const std::string loc = registerDev1();
  expectRejected(updateRequest(loc, {"lt=abc"}), Code::kBadRequest, "invalid lifetime");
  expectRejected(updateRequest(loc, {"ep=dev1"}), Code::kBadRequest, "not allowed in an Update");
  expectRejected(updateRequest(loc, {}, "garbage"), Code::kBadRequest, "");
}

TEST_F(RegistrationInterfaceTest, StoreFailureIsInternalErrorAndRegistersNothing) {
  store.fail = true;
  expectRejected(registerRequest(), Code::kInternalServerError, "disk full");
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_TRUE(store.rows.empty());
}

TEST_F(RegistrationInterfaceTest, StoreFailureOnUpdateAndDeleteChangesNothing) {
  const std::string loc = registerDev1();
  store.fail = true;
  expectRejected(updateRequest(loc, {"lt=600"}, "</3/0>"), Code::kInternalServerError, "disk full");
  expectRejected(deleteRequest(loc), Code::kInternalServerError, "disk full");
  expectRejected(registerRequest(), Code::kInternalServerError, "disk full");
  EXPECT_EQ(registry.findByLocation(loc)->lifetime, 300u);
}

TEST_F(RegistrationInterfaceTest, DeviceLimitIsServiceUnavailable) {
  registry.setLimits({.maxDevices = 1});
  const std::string loc = registerDev1();
  expectRejected(registerRequest({"ep=dev2", "lt=300"}), Code::kServiceUnavailable,
                 "device limit reached");
  // The registered device can still register again.
  EXPECT_EQ(rd.handle(registerRequest()).code, Code::kCreated);
}

TEST(CodeText, ClassDotDetail) {
  EXPECT_EQ(codeText(Code::kCreated), "2.01");
  EXPECT_EQ(codeText(Code::kDeleted), "2.02");
  EXPECT_EQ(codeText(Code::kChanged), "2.04");
  EXPECT_EQ(codeText(Code::kContent), "2.05");
  EXPECT_EQ(codeText(Code::kBadRequest), "4.00");
  EXPECT_EQ(codeText(Code::kNotFound), "4.04");
  EXPECT_EQ(codeText(Code::kPreconditionFailed), "4.12");
  EXPECT_EQ(codeText(Code::kRequestEntityTooLarge), "4.13");
  EXPECT_EQ(codeText(Code::kUnsupportedContentFormat), "4.15");
  EXPECT_EQ(codeText(Code::kInternalServerError), "5.00");
  EXPECT_EQ(codeText(Code::kServiceUnavailable), "5.03");
  EXPECT_EQ(codeText(static_cast<Code>(0x41)), "2.01");
  EXPECT_EQ(codeText(static_cast<Code>(0x8c)), "4.12");
  EXPECT_EQ(codeText(static_cast<Code>(0xa3)), "5.03");
  EXPECT_EQ(codeText(static_cast<Code>(0x9f)), "4.31");
}

TEST(CodeFor, EveryErrorCode) {
  EXPECT_EQ(static_cast<int>(codeFor(ErrorCode::kBadRequest)), 0x80);
  EXPECT_EQ(static_cast<int>(codeFor(ErrorCode::kForbidden)), 0x83);
  EXPECT_EQ(static_cast<int>(codeFor(ErrorCode::kNotFound)), 0x84);
  EXPECT_EQ(static_cast<int>(codeFor(ErrorCode::kPreconditionFailed)), 0x8c);
  EXPECT_EQ(static_cast<int>(codeFor(ErrorCode::kTooLarge)), 0x8d);
  EXPECT_EQ(static_cast<int>(codeFor(ErrorCode::kUnsupportedFormat)), 0x8f);
  EXPECT_EQ(static_cast<int>(codeFor(ErrorCode::kLimitReached)), 0xa3);
  EXPECT_EQ(static_cast<int>(codeFor(ErrorCode::kStorage)), 0xa0);
  EXPECT_EQ(static_cast<int>(codeFor(ErrorCode::kInternal)), 0xa0);
}

TEST(ErrorResponse, CarriesCodeAndMessage) {
  Response r = errorResponse(makeError(ErrorCode::kTooLarge, "too big"));
  EXPECT_EQ(r.code, Code::kRequestEntityTooLarge);
  EXPECT_EQ(r.payload, "too big");
  EXPECT_TRUE(r.locationPath.empty());
  EXPECT_FALSE(r.contentFormat.has_value());
}

}  // namespace
}  // namespace lwgate::core
