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

}  // namespace
}  // namespace lwgate::db
