// SqliteUpstreamStore on a real database file.
#include "db/upstream_store.h"

#include <gtest/gtest.h>

#include "db/database.h"
#include "db/request_store.h"
#include "tests/unit/db/test_support.h"

namespace lwgate::db {
namespace {

class UpstreamStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = openDatabase(dir.file("u.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    db.emplace(std::move(*opened));
    auto s = SqliteUpstreamStore::create(db->connection());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store = std::move(*s);
    auto r = SqliteRequestStore::create(db->connection());
    ASSERT_TRUE(r.ok());
    requests = std::move(*r);
    for (const char* ep : {"dev", "other"}) addDevice(ep);
  }
  // A device row, as a Register or a queued request makes one.
  std::int64_t addDevice(const std::string& ep) {
    core::DownlinkRequest r;
    r.endpoint = ep;
    r.path = "/3/0";
    auto id = requests->insertRequest(r);
    EXPECT_TRUE(id.ok());
    return id.ok() ? *id : 0;
  }

  testing::TempDir dir;
  std::optional<Database> db;
  std::unique_ptr<SqliteUpstreamStore> store;
  std::unique_ptr<SqliteRequestStore> requests;
};

bridge::StoredRegistration registration(std::string server, std::string device) {
  bridge::StoredRegistration r;
  r.server = std::move(server);
  r.device = device;
  r.location = {"rd", "abc123"};
  r.told = {"gw-" + device, 4294967295u, "1.0", true, "</lwm2m>;rt=\"oma.lwm2m\",</lwm2m/3/0>"};
  r.updatedAt = core::fromUnixMillis(1'790'000'000'123);
  return r;
}

void expectSame(const bridge::StoredRegistration& a, const bridge::StoredRegistration& b) {
  EXPECT_EQ(a.server, b.server);
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.location, b.location);
  EXPECT_EQ(a.told, b.told);
  EXPECT_EQ(a.updatedAt, b.updatedAt);
}

TEST_F(UpstreamStoreTest, RegistrationsRoundTripAndAreReplacedInPlace) {
  EXPECT_TRUE(store->loadRegistrations()->empty());
  auto a = registration("coap://a:5683", "dev");
  auto b = registration("coap://b:5683", "dev");
  b.location = {"x"};
  auto c = registration("coap://a:5683", "other");
  for (const auto& r : {a, b, c}) ASSERT_TRUE(store->saveRegistration(r).ok());
  auto loaded = store->loadRegistrations();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 3u);
  expectSame((*loaded)[0], a);  // ordered by server, then endpoint
  expectSame((*loaded)[1], c);
  expectSame((*loaded)[2], b);

  a.location = {"rd", "new"};
  a.told.lifetime = 60;
  a.told.queueMode = false;
  ASSERT_TRUE(store->saveRegistration(a).ok());
  loaded = store->loadRegistrations();
  ASSERT_EQ(loaded->size(), 3u);
  expectSame((*loaded)[0], a);

  ASSERT_TRUE(store->removeRegistration("coap://a:5683", "dev").ok());
  ASSERT_TRUE(store->removeRegistration("coap://a:5683", "nobody").ok());  // nothing to do
  loaded = store->loadRegistrations();
  ASSERT_EQ(loaded->size(), 2u);
  expectSame((*loaded)[0], c);
}

TEST_F(UpstreamStoreTest, UnknownDeviceIsNotFoundAndNothingIsStored) {
  auto saved = store->saveRegistration(registration("coap://a:5683", "nobody"));
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(store->loadRegistrations()->empty());
}

TEST_F(UpstreamStoreTest, DeletingTheDeviceDeletesItsUpstreamRegistrations) {
  ASSERT_TRUE(store->saveRegistration(registration("coap://a:5683", "dev")).ok());
  ASSERT_TRUE(db->connection().exec("DELETE FROM devices WHERE endpoint = 'dev'", "t").ok());
  EXPECT_TRUE(store->loadRegistrations()->empty());
}

TEST_F(UpstreamStoreTest, ExchangesRoundTripAndGoWithTheirRequest) {
  EXPECT_TRUE(store->loadExchanges()->empty());
  core::DownlinkRequest observe;
  observe.endpoint = "other";
  observe.operation = core::Operation::kObserve;
  observe.path = "/3/0/9";
  auto observeId = requests->insertRequest(observe);
  ASSERT_TRUE(observeId.ok());
  const std::int64_t readId = addDevice("dev");
  const bridge::Exchange a{readId, "coap://a:5683", "dev", {0xde, 0xad}, core::fromUnixMillis(5000),
                           false};
  const bridge::Exchange b{*observeId, "coap://a:5683", "other", {}, core::fromUnixMillis(6000),
                           true};
  ASSERT_TRUE(store->insertExchange(a).ok());
  ASSERT_TRUE(store->insertExchange(b).ok());
  EXPECT_FALSE(store->insertExchange(a).ok());  // one per request
  auto loaded = store->loadExchanges();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 2u);
  for (std::size_t k = 0; k < 2; ++k) {
    const auto& want = k == 0 ? b : a;  // by request id
    const auto& got = (*loaded)[k];
    EXPECT_EQ(got.requestId, want.requestId);
    EXPECT_EQ(got.server, want.server);
    EXPECT_EQ(got.device, want.device);
    EXPECT_EQ(got.token, want.token);
    EXPECT_EQ(got.answerBy, want.answerBy);
    EXPECT_EQ(got.observe, want.observe);
  }
  ASSERT_TRUE(store->deleteExchange(readId).ok());
  EXPECT_EQ(store->loadExchanges()->size(), 1u);
  ASSERT_TRUE(db->connection().exec("DELETE FROM requests", "t").ok());
  EXPECT_TRUE(store->loadExchanges()->empty());
}

TEST_F(UpstreamStoreTest, ObservationsRoundTripAndFindTheirNotifications) {
  const std::int64_t observeId = addDevice("dev");  // request 3 on device 1
  bridge::UpstreamObservation o{0,         "coap://a:5683", "dev", {0x01, 0x02}, "/3303/0/5700",
                                observeId, std::nullopt,    0};
  auto id = store->insertObservation(o);
  ASSERT_TRUE(id.ok()) << id.error().message;
  o.device = "nobody";
  auto unknown = store->insertObservation(o);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  // No observation on the device yet.
  EXPECT_FALSE(store->observationOf(observeId)->has_value());
  ASSERT_TRUE(db->connection()
                  .exec("INSERT INTO observations (id, device_id, path, token, request_id, "
                        "created_at) SELECT 9, device_id, '/3303/0/5700', x'aa', id, 0 FROM "
                        "requests WHERE id = " +
                            std::to_string(observeId) +
                            ";"
                            "INSERT INTO notifications (id, device_id, observation_id, "
                            "received_at, content_format, payload) VALUES "
                            "(20, 1, 9, 0, 0, '21.5'), (21, 1, 9, 0, NULL, '22'), "
                            "(22, 1, NULL, 0, 0, 'x'), (23, 1, 9, 0, 0, '22.5');",
                        "t")
                  .ok());
  auto found = store->observationOf(observeId);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ(**found, std::make_pair(std::int64_t{9}, std::int64_t{23}));
  ASSERT_TRUE(store->establishObservation(*id, 9, 20).ok());
  auto after = store->notificationsAfter(9, 20, 10);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);  // another observation's (or a Send's) are not its
  EXPECT_EQ((*after)[0].id, 21);
  EXPECT_FALSE((*after)[0].contentFormat);
  EXPECT_EQ((*after)[0].payload, (std::vector<std::uint8_t>{'2', '2'}));
  EXPECT_EQ((*after)[1].id, 23);
  EXPECT_EQ((*after)[1].contentFormat, std::optional<std::uint16_t>(0));
  EXPECT_EQ(store->notificationsAfter(9, 20, 1)->size(), 1u);  // bounded
  // forwarded_id only grows (a late acknowledgement never moves it back).
  ASSERT_TRUE(store->setForwarded(*id, 23).ok());
  ASSERT_TRUE(store->setForwarded(*id, 21).ok());
  auto loaded = store->loadObservations();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1u);
  const auto& got = loaded->front();
  EXPECT_EQ(got.id, *id);
  EXPECT_EQ(got.server, "coap://a:5683");
  EXPECT_EQ(got.device, "dev");
  EXPECT_EQ(got.token, (bridge::Token{0x01, 0x02}));
  EXPECT_EQ(got.path, "/3303/0/5700");
  EXPECT_EQ(got.requestId, observeId);
  EXPECT_EQ(got.observationId, std::optional<std::int64_t>(9));
  EXPECT_EQ(got.forwardedId, 23);
  ASSERT_TRUE(store->deleteObservation(*id).ok());
  EXPECT_TRUE(store->loadObservations()->empty());
}

// The cursors of the bridge's Send forwarding: started once (a second start keeps the first),
// moved on only forward, the device's Sends after it in order (not its notifications, not
// another device's), gone with the device.
TEST_F(UpstreamStoreTest, SendCursorsRoundTripAndFindTheDevicesSends) {
  ASSERT_TRUE(db->connection()
                  .exec("INSERT INTO notifications (id, device_id, kind, received_at, "
                        "content_format, payload) VALUES "
                        "(30, 1, 'send', 0, 110, 'a'), (31, 1, 'notify', 0, 0, 'n'), "
                        "(32, 2, 'send', 0, 110, 'o'), (33, 1, 'send', 0, 112, 'b'), "
                        "(34, 1, 'send', 0, 11544, 'c');",
                        "t")
                  .ok());
  ASSERT_TRUE(store->startSends("coap://a", "dev", 29).ok());
  ASSERT_TRUE(store->startSends("coap://a", "dev", 33).ok());  // kept at 29
  ASSERT_TRUE(store->startSends("coap://b", "dev", 33).ok());
  ASSERT_TRUE(store->startSends("coap://a", "nobody", 1).ok());  // no device: nothing
  auto cursors = store->loadSendCursors();
  ASSERT_TRUE(cursors.ok()) << cursors.error().message;
  ASSERT_EQ(cursors->size(), 2u);
  EXPECT_EQ((*cursors)[0].server, "coap://a");
  EXPECT_EQ((*cursors)[0].device, "dev");
  EXPECT_EQ((*cursors)[0].forwardedId, 29);
  EXPECT_EQ((*cursors)[1].server, "coap://b");
  EXPECT_EQ((*cursors)[1].forwardedId, 33);

  auto sends = store->sendsAfter("dev", 29, 10);
  ASSERT_TRUE(sends.ok()) << sends.error().message;
  ASSERT_EQ(sends->size(), 3u);
  EXPECT_EQ((*sends)[0].id, 30);
  EXPECT_EQ((*sends)[0].contentFormat, std::optional<std::uint16_t>(110));
  EXPECT_EQ((*sends)[0].payload, (std::vector<std::uint8_t>{'a'}));
  EXPECT_EQ((*sends)[1].id, 33);
  EXPECT_EQ((*sends)[2].id, 34);
  EXPECT_EQ((*sends)[2].contentFormat, std::optional<std::uint16_t>(11544));
  EXPECT_EQ(store->sendsAfter("dev", 29, 1)->size(), 1u);  // bounded
  EXPECT_TRUE(store->sendsAfter("dev", 34, 10)->empty());

  ASSERT_TRUE(store->setSendsForwarded("coap://a", "dev", 33).ok());
  ASSERT_TRUE(store->setSendsForwarded("coap://a", "dev", 30).ok());  // never back
  EXPECT_EQ(store->loadSendCursors()->front().forwardedId, 33);
  EXPECT_EQ(store->setSendsForwarded("coap://c", "dev", 1).error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(db->connection().exec("DELETE FROM devices WHERE endpoint = 'dev'", "t").ok());
  EXPECT_TRUE(store->loadSendCursors()->empty());
}

}  // namespace
}  // namespace lwgate::db
