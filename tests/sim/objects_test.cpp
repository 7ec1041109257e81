// The simulator's object store and TLV encoder, with literal bytes: end-to-end tests trust the
// sim's answers, so its encoding is pinned here independently of the gateway's codec.
#include "tests/sim/objects.h"

#include <gtest/gtest.h>

namespace lwgate::sim {
namespace {

using namespace std::string_literals;

constexpr std::int64_t kNow = 1700000000;

ServerRequest get(std::vector<std::string> path, std::optional<unsigned> accept = std::nullopt) {
  ServerRequest r;
  r.method = Method::kGet;
  r.path = std::move(path);
  r.accept = accept;
  return r;
}

ServerRequest put(std::vector<std::string> path, unsigned format, std::string payload) {
  ServerRequest r;
  r.method = Method::kPut;
  r.path = std::move(path);
  r.contentFormat = format;
  r.payload = std::move(payload);
  return r;
}

ServerRequest post(std::vector<std::string> path) {
  ServerRequest r;
  r.method = Method::kPost;
  r.path = std::move(path);
  return r;
}

class ObjectStoreTest : public ::testing::Test {
 protected:
  std::int64_t now = kNow;
  ObjectStore store = ObjectStore::standard("ep-1", 300, false, [this] { return now; });
};

TEST(Tlv, EncodesIdAndLengthFieldsAsShortAsTheyFit) {
  EXPECT_EQ(tlv::encode(tlv::Kind::kResource, 9, "\x5f"), "\xc1\x09\x5f"s);
  // Length 8 no longer fits the 3-bit field: 8-bit length follows the id.
  EXPECT_EQ(tlv::encode(tlv::Kind::kResource, 0, "12345678"), "\xc8\x00\x08"s + "12345678");
  // Id 256 needs the 16-bit identifier bit (0x20).
  EXPECT_EQ(tlv::encode(tlv::Kind::kResource, 256, ""), "\xe0\x01\x00"s);
  EXPECT_EQ(tlv::encode(tlv::Kind::kObjectInstance, 0, "abc"), "\x03\x00"s + "abc");
  std::string big(300, 'x');
  EXPECT_EQ(tlv::encode(tlv::Kind::kResource, 1, big).substr(0, 4), "\xd0\x01\x01\x2c"s);
}

TEST(Tlv, IntegersUseTheShortestOfOneTwoFourOrEightBytes) {
  EXPECT_EQ(tlv::encodeInteger(0), "\x00"s);
  EXPECT_EQ(tlv::encodeInteger(-1), "\xff"s);
  EXPECT_EQ(tlv::encodeInteger(127), "\x7f"s);
  EXPECT_EQ(tlv::encodeInteger(128), "\x00\x80"s);
  EXPECT_EQ(tlv::encodeInteger(300), "\x01\x2c"s);
  EXPECT_EQ(tlv::encodeInteger(86400), "\x00\x01\x51\x80"s);
  EXPECT_EQ(tlv::encodeInteger(4294967295LL), "\x00\x00\x00\x00\xff\xff\xff\xff"s);
  for (std::int64_t v : {0LL, -1LL, 127LL, -128LL, 128LL, 300LL, -40000LL, 86400LL, 1LL << 40}) {
    EXPECT_EQ(tlv::decodeInteger(tlv::encodeInteger(v)), v) << v;
  }
  EXPECT_FALSE(tlv::decodeInteger("\x00\x00\x00"s));  // 3 bytes is not an LwM2M integer
  EXPECT_FALSE(tlv::decodeInteger(""));
}

TEST(Tlv, DecodesOneLevelAndRejectsTruncation) {
  auto entries = tlv::decode("\xc1\x00\x01\xc2\x01\x02\x58"s);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[1].kind, tlv::Kind::kResource);
  EXPECT_EQ((*entries)[1].id, 1);
  EXPECT_EQ((*entries)[1].value, "\x02\x58"s);
  EXPECT_FALSE(tlv::decode("\xc2\x01\x02"s));  // value cut short
  EXPECT_FALSE(tlv::decode("\xe8\x01"s));      // 16-bit id cut short
  EXPECT_FALSE(tlv::decode("\xd8\x01\x00"s));  // 24-bit length cut short
}

TEST_F(ObjectStoreTest, ReadsOneResourceAsTextUnlessTlvIsAsked) {
  auto text = store.handle(get({"3", "0", "9"}));
  EXPECT_EQ(text.code, kCoapContent);
  EXPECT_EQ(text.contentFormat, kFormatText);
  EXPECT_EQ(text.payload, "95");
  EXPECT_EQ(store.handle(get({"3", "0", "2"}, kFormatText)).payload, "ep-1");
  auto tlv = store.handle(get({"3", "0", "9"}, kFormatTlv));
  EXPECT_EQ(tlv.contentFormat, kFormatTlv);
  EXPECT_EQ(tlv.payload, "\xc1\x09\x5f"s);
  EXPECT_EQ(store.handle(get({"3", "0", "13"})).payload, std::to_string(kNow));
}

TEST_F(ObjectStoreTest, ReadsInstancesAndObjectsAsTlvAndLeavesExecutablesOut) {
  auto instance = store.handle(get({"1", "0"}));
  EXPECT_EQ(instance.code, kCoapContent);
  EXPECT_EQ(instance.contentFormat, kFormatTlv);
  EXPECT_EQ(instance.payload, "\xc1\x00\x01\xc2\x01\x01\x2c\xc1\x07U"s);
  auto object = store.handle(get({"1"}, kFormatTlv));
  EXPECT_EQ(object.payload, "\x08\x00\x0a\xc1\x00\x01\xc2\x01\x01\x2c\xc1\x07U"s);
  auto device = store.handle(get({"3", "0"}, kFormatTlv));
  EXPECT_EQ(device.payload.find("\xc0\x04"s), std::string::npos);  // no /3/0/4 entry
  EXPECT_EQ(device.payload.substr(0, 13), "\xc8\x00\x0alwgate-sim"s);
}

TEST_F(ObjectStoreTest, RefusesFormatsAndPathsItCannotServe) {
  EXPECT_EQ(store.handle(get({"3", "0", "9"}, 112)).code, kCoapNotAcceptable);  // SenML CBOR
  EXPECT_EQ(store.handle(get({"3", "0"}, kFormatText)).code, kCoapNotAcceptable);
  EXPECT_EQ(store.handle(get({"3", "0", "4"})).code, kCoapMethodNotAllowed);  // Reboot
  for (auto path : std::vector<std::vector<std::string>>{{},
                                                         {"9"},
                                                         {"3", "1"},
                                                         {"3", "0", "99"},
                                                         {"3", "0", "9", "0"},
                                                         {"3", "0", "7", "2"},
                                                         {"3", "0", "7", "0", "0"},
                                                         {"x"},
                                                         {"03"},
                                                         {"65535"}}) {
    EXPECT_EQ(store.handle(get(path)).code, kCoapNotFound) << path.size();
  }
}

TEST_F(ObjectStoreTest, DiscoverListsTheTargetAndWhatIsBelowIt) {
  auto instance = store.handle(get({"1", "0"}, kFormatLinkFormat));
  EXPECT_EQ(instance.contentFormat, kFormatLinkFormat);
  EXPECT_EQ(instance.payload, "</1/0>,</1/0/0>,</1/0/1>,</1/0/7>");
  EXPECT_EQ(store.handle(get({"1"}, kFormatLinkFormat)).payload,
            "</1>,</1/0>,</1/0/0>,</1/0/1>,</1/0/7>");
  EXPECT_EQ(store.handle(get({"3", "0", "9"}, kFormatLinkFormat)).payload, "</3/0/9>");
  EXPECT_NE(store.handle(get({"3", "0"}, kFormatLinkFormat)).payload.find("</3/0/4>"),
            std::string::npos);
}

TEST_F(ObjectStoreTest, WritesTextAndTlvAndChecksTheValue) {
  EXPECT_EQ(store.handle(put({"1", "0", "1"}, kFormatText, "120")).code, kCoapChanged);
  EXPECT_EQ(store.lifetime(), 120u);
  EXPECT_EQ(store.handle(put({"1", "0", "1"}, kFormatTlv, "\xc2\x01\x02\x58"s)).code, kCoapChanged);
  EXPECT_EQ(store.lifetime(), 600u);
  EXPECT_EQ(store.handle(put({"1", "0", "1"}, kFormatText, "0")).code, kCoapBadRequest);
  EXPECT_EQ(store.handle(put({"1", "0", "1"}, kFormatText, "12x")).code, kCoapBadRequest);
  EXPECT_EQ(store.handle(put({"1", "0", "1"}, kFormatText, "4294967296")).code, kCoapBadRequest);
  // A TLV entry for another resource is not a Write of this one.
  EXPECT_EQ(store.handle(put({"1", "0", "1"}, kFormatTlv, "\xc2\x07\x02\x58"s)).code,
            kCoapBadRequest);
  EXPECT_EQ(store.lifetime(), 600u);
  EXPECT_EQ(store.handle(put({"1", "0", "7"}, 110, "{}")).code, kCoapUnsupportedFormat);
  EXPECT_EQ(store.handle(put({"3", "0", "9"}, kFormatText, "5")).code, kCoapMethodNotAllowed);
  EXPECT_EQ(
      store.handle(put({"1", "0", "7"}, kFormatText, std::string(kMaxStringBytes + 1, 'U'))).code,
      kCoapTooLarge);
  EXPECT_EQ(store.handle(put({"1", "0", "7"}, kFormatText, "UQ")).code, kCoapChanged);
  EXPECT_EQ(store.handle(get({"1", "0", "7"})).payload, "UQ");
}

TEST_F(ObjectStoreTest, InstanceWriteAppliesAllOrNothing) {
  ServerRequest partial = put({"1", "0"}, kFormatTlv, "\xc2\x01\x02\x58\xc2\x07UQ"s);
  partial.method = Method::kPost;
  EXPECT_EQ(store.handle(partial).code, kCoapChanged);
  EXPECT_EQ(store.lifetime(), 600u);
  EXPECT_EQ(store.handle(get({"1", "0", "7"})).payload, "UQ");
  // /1/0/0 is read-only, so the lifetime in the same request must not be stored either.
  ServerRequest mixed = put({"1", "0"}, kFormatTlv, "\xc1\x01\x09\xc1\x00\x02"s);
  EXPECT_EQ(store.handle(mixed).code, kCoapMethodNotAllowed);
  EXPECT_EQ(store.lifetime(), 600u);
  // Wrapped in the instance's own entry.
  EXPECT_EQ(store.handle(put({"1", "0"}, kFormatTlv, "\x03\x00\xc1\x01\x2d"s)).code, kCoapChanged);
  EXPECT_EQ(store.lifetime(), 45u);
}

TEST_F(ObjectStoreTest, TimeWritesShiftTheClockTheReadsFollow) {
  EXPECT_EQ(store.handle(put({"3", "0", "13"}, kFormatText, "1000")).code, kCoapChanged);
  now += 5;
  EXPECT_EQ(store.handle(get({"3", "0", "13"})).payload, "1005");
}

TEST_F(ObjectStoreTest, ExecuteCountsAndRefusesNonExecutables) {
  EXPECT_EQ(store.handle(post({"3", "0", "4"})).code, kCoapChanged);
  EXPECT_EQ(store.handle(post({"3", "0", "4"})).code, kCoapChanged);
  EXPECT_EQ(store.handle(post({"3", "0", "9"})).code, kCoapMethodNotAllowed);
  EXPECT_EQ(store.handle(post({"3"})).code, kCoapMethodNotAllowed);  // Create
  EXPECT_EQ(store.handle(post({"3", "0", "4"})).executed, "/3/0/4");
  EXPECT_FALSE(store.handle(post({"3", "0", "9"})).executed);
  auto executions = store.executions();
  ASSERT_EQ(executions.size(), 1u);
  EXPECT_EQ(executions[0].first, "/3/0/4");
  EXPECT_EQ(executions[0].second, 3u);
}

TEST_F(ObjectStoreTest, WriteAttributesAreAcceptedAndDeleteIsRefused) {
  ServerRequest attributes;
  attributes.method = Method::kPut;
  attributes.path = {"3", "0", "9"};
  attributes.hasQuery = true;
  EXPECT_EQ(store.handle(attributes).code, kCoapChanged);
  ServerRequest remove;
  remove.method = Method::kDelete;
  remove.path = {"3", "0"};
  EXPECT_EQ(store.handle(remove).code, kCoapMethodNotAllowed);
  remove.path = {"3", "7"};
  EXPECT_EQ(store.handle(remove).code, kCoapNotFound);
}

TEST_F(ObjectStoreTest, ReadsSenmlJsonWithFullNames) {
  auto one = store.handle(get({"3", "0", "9"}, kFormatSenmlJson));
  EXPECT_EQ(one.code, kCoapContent);
  EXPECT_EQ(one.contentFormat, kFormatSenmlJson);
  EXPECT_EQ(one.payload, R"([{"n":"/3/0/9","v":95}])");
  EXPECT_EQ(store.handle(get({"1", "0"}, kFormatSenmlJson)).payload,
            R"([{"n":"/1/0/0","v":1},{"n":"/1/0/1","v":300},{"n":"/1/0/7","vs":"U"}])");
  EXPECT_EQ(store.handle(get({"3", "0", "7"}, kFormatSenmlJson)).payload,
            R"([{"n":"/3/0/7/0","v":3800},{"n":"/3/0/7/1","v":5000}])");
  EXPECT_EQ(store.handle(put({"1", "0", "7"}, kFormatText, "a\"b")).code, kCoapChanged);
  EXPECT_EQ(store.handle(get({"1", "0", "7"}, kFormatSenmlJson)).payload,
            R"([{"n":"/1/0/7","vs":"a\"b"}])");
}

TEST_F(ObjectStoreTest, ResourceInstancesReadAndWrite) {
  // /3/0/7 Power Source Voltage: instances 0 and 1.
  EXPECT_EQ(store.handle(get({"3", "0", "7"})).payload,
            "\x88\x07\x08\x42\x00\x0e\xd8\x42\x01\x13\x88"s);
  EXPECT_EQ(store.handle(get({"3", "0", "7"}, kFormatText)).code, kCoapNotAcceptable);
  EXPECT_EQ(store.handle(get({"3", "0", "7", "1"})).payload, "5000");
  EXPECT_EQ(store.handle(get({"3", "0", "7", "1"}, kFormatTlv)).payload, "\x42\x01\x13\x88"s);
  EXPECT_EQ(store.handle(put({"3", "0", "7", "1"}, kFormatText, "4900")).code, kCoapChanged);
  EXPECT_EQ(store.handle(get({"3", "0", "7", "1"})).payload, "4900");
  EXPECT_EQ(store.handle(put({"3", "0", "7", "0"}, kFormatTlv, "\x42\x00\x0e\x74"s)).code,
            kCoapChanged);
  EXPECT_EQ(store.handle(get({"3", "0", "7", "0"})).payload, "3700");
  // The entry must name the instance written.
  EXPECT_EQ(store.handle(put({"3", "0", "7", "0"}, kFormatTlv, "\x42\x01\x0e\x74"s)).code,
            kCoapBadRequest);
  EXPECT_EQ(store.handle(put({"3", "0", "6", "0"}, kFormatText, "2")).code, kCoapMethodNotAllowed);
  // Replacing the whole resource.
  EXPECT_EQ(store.handle(put({"3", "0", "7"}, kFormatTlv, "\x83\x07\x41\x05\x01"s)).code,
            kCoapChanged);
  EXPECT_EQ(store.handle(get({"3", "0", "7"}, kFormatSenmlJson)).payload,
            R"([{"n":"/3/0/7/5","v":1}])");
}

TEST(ObjectStoreSensor, FloatsInTextTlvAndSenml) {
  ObjectStore store = ObjectStore::standard("ep", 300, false, [] { return kNow; });
  store.addTemperatureSensor();
  EXPECT_EQ(store.handle(get({"3303", "0", "5700"})).payload, "21.5");
  EXPECT_EQ(store.handle(get({"3303", "0", "5700"}, kFormatTlv)).payload,
            "\xe8\x16\x44\x08\x40\x35\x80\x00\x00\x00\x00\x00"s);
  EXPECT_TRUE(store.bump("/3303/0/5700"));
  EXPECT_EQ(store.handle(get({"3303", "0", "5700"}, kFormatSenmlJson)).payload,
            R"([{"n":"/3303/0/5700","v":22}])");
  EXPECT_FALSE(store.bump("/3303/0/5701"));  // a string
  EXPECT_FALSE(store.bump("/3303/0"));
}

ServerRequest observeGet(std::vector<std::string> path, std::string token,
                         std::optional<unsigned> accept = std::nullopt,
                         std::vector<std::string> query = {}) {
  ServerRequest r = get(std::move(path), accept);
  r.observe = 0;
  r.token = std::move(token);
  r.query = std::move(query);
  r.hasQuery = !r.query.empty();
  return r;
}

TEST_F(ObjectStoreTest, ObserveAnswersWithObserveAndNotifiesChangesInOrder) {
  auto first = store.handle(observeGet({"3", "0", "9"}, "t1"), 1000);
  EXPECT_EQ(first.code, kCoapContent);
  ASSERT_TRUE(first.observe);
  EXPECT_EQ(store.observationCount(), 1u);
  EXPECT_TRUE(store.dueNotifications(5000).empty()) << "nothing changed, no pmax";
  ASSERT_TRUE(store.bump("/3/0/9"));
  auto due = store.dueNotifications(5001);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].token, "t1");
  EXPECT_EQ(due[0].path, "/3/0/9");
  EXPECT_EQ(due[0].code, kCoapContent);
  EXPECT_EQ(due[0].payload, "96");
  ASSERT_TRUE(due[0].observe);
  EXPECT_GT(*due[0].observe, *first.observe);
  EXPECT_TRUE(store.dueNotifications(5002).empty());
  // An instance observation sees a change of one of its resources.
  auto instance = store.handle(observeGet({"1", "0"}, "t2", kFormatSenmlJson), 6000);
  ASSERT_TRUE(instance.observe);
  EXPECT_EQ(store.handle(put({"1", "0", "1"}, kFormatText, "120")).code, kCoapChanged);
  due = store.dueNotifications(6001);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].token, "t2");
  EXPECT_EQ(due[0].contentFormat, kFormatSenmlJson);
  EXPECT_NE(due[0].payload.find(R"({"n":"/1/0/1","v":120})"), std::string::npos);
  // A stale one is numbered one below the last one sent.
  auto stale = store.staleNotification("/1/0");
  ASSERT_TRUE(stale);
  EXPECT_EQ(*stale->observe, *due[0].observe - 1);
  EXPECT_FALSE(store.staleNotification("/3/0/0"));
}

TEST_F(ObjectStoreTest, CancelAndRejectionEndObservations) {
  ASSERT_TRUE(store.handle(observeGet({"3", "0", "9"}, "t1"), 0).observe);
  ServerRequest cancel = observeGet({"3", "0", "9"}, "t1");
  cancel.observe = 1;
  auto answer = store.handle(cancel, 0);
  EXPECT_EQ(answer.code, kCoapContent);
  EXPECT_FALSE(answer.observe);
  EXPECT_EQ(store.observationCount(), 0u);
  ASSERT_TRUE(store.handle(observeGet({"3", "0", "9"}, "t2"), 0).observe);
  EXPECT_TRUE(store.dropObservation("t2"));
  EXPECT_FALSE(store.dropObservation("t2"));
  // An error answer starts nothing.
  EXPECT_FALSE(store.handle(observeGet({"3", "0", "4"}, "t3"), 0).observe);
  EXPECT_EQ(store.observationCount(), 0u);
}

TEST_F(ObjectStoreTest, PminHoldsBackAndPmaxForcesNotifications) {
  // Write-Attributes on the instance apply to an observed resource below it.
  ServerRequest attributes;
  attributes.method = Method::kPut;
  attributes.path = {"3", "0"};
  attributes.hasQuery = true;
  attributes.query = {"pmin=2", "pmax=10"};
  EXPECT_EQ(store.handle(attributes).code, kCoapChanged);
  ASSERT_TRUE(store.handle(observeGet({"3", "0", "9"}, "t"), 0).observe);
  store.bump("/3/0/9");
  EXPECT_TRUE(store.dueNotifications(1999).empty()) << "pmin";
  EXPECT_EQ(store.dueNotifications(2000).size(), 1u);
  EXPECT_TRUE(store.dueNotifications(11999).empty());
  EXPECT_EQ(store.dueNotifications(12000).size(), 1u) << "pmax without a change";
  // The Observe's own attributes win over the path's.
  ASSERT_TRUE(
      store.handle(observeGet({"3", "0", "9"}, "t", std::nullopt, {"pmax=1"}), 20000).observe);
  EXPECT_EQ(store.dueNotifications(21000).size(), 1u);
  attributes.query = {"pmin=x"};
  EXPECT_EQ(store.handle(attributes).code, kCoapBadRequest);
}

TEST(ObjectStoreFirmware, ObjectFiveIsThereOnlyWhenAsked) {
  auto clock = [] { return kNow; };
  auto without = ObjectStore::standard("ep", 300, false, clock);
  auto with = ObjectStore::standard("ep", 300, true, clock);
  EXPECT_EQ(without.handle(get({"5", "0", "3"})).code, kCoapNotFound);
  EXPECT_EQ(with.handle(get({"5", "0", "3"})).payload, "0");
  EXPECT_EQ(with.handle(post({"5", "0", "2"})).code, kCoapChanged);
}

}  // namespace
}  // namespace lwgate::sim
