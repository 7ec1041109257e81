// SqliteObservationStore on a real temporary database file: the core::ObservationStore
// contract, the per-device bound, and the real ObservationTable on top across a "restart" (a
// new connection to the same file).
#include "db/observation_store.h"

#include <gtest/gtest.h>

#include <memory>

#include "db/database.h"
#include "db/request_store.h"
#include "gateway/lwm2m/content_format.h"
#include "tests/support/manual_clock.h"
#include "tests/unit/db/test_support.h"

namespace lwgate::db {
namespace {

core::WallTime at(std::int64_t ms) {
  return core::fromUnixMillis(ms);
}

core::Observation observation(const std::string& endpoint, core::Token token) {
  core::Observation o;
  o.endpoint = endpoint;
  o.path = "/3303/0/5700";
  o.token = std::move(token);
  o.attributes = "pmin=1&pmax=30";
  o.acceptFormat = 110;
  o.createdAt = at(1'790'000'000'000);
  return o;
}

core::Notification notification(const std::string& endpoint, std::optional<std::int64_t> obs,
                                std::uint32_t seq) {
  core::Notification n;
  n.endpoint = endpoint;
  n.observationId = obs;
  n.path = "/3303/0/5700";
  n.token = {7, 7};
  n.observeSeq = seq;
  n.receivedAt = at(1'790'000'000'000 + seq);
  n.contentFormat = 0;
  const std::string text = std::to_string(seq);
  n.payload.assign(text.begin(), text.end());
  return n;
}

class ObservationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open() {
    store.reset();
    db.reset();
    auto opened = openDatabase(dir.file("o.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    db.emplace(std::move(*opened));
    auto s = SqliteObservationStore::create(db->connection());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store = std::move(*s);
  }
  std::vector<std::string> payloads(const std::string& endpoint) {
    auto listed = store->listNotifications(endpoint, 100000, 0);
    EXPECT_TRUE(listed.ok());
    std::vector<std::string> out;
    for (const auto& n : *listed) out.emplace_back(n.payload.begin(), n.payload.end());
    return out;
  }

  testing::TempDir dir;
  std::optional<Database> db;
  std::unique_ptr<SqliteObservationStore> store;
};

TEST_F(ObservationStoreTest, ObservationsRoundTripAndSurviveANewConnection) {
  core::Observation o = observation("dev", {1, 2, 3, 4, 5, 6, 7, 8});
  auto id = store->insertObservation(o);
  ASSERT_TRUE(id.ok()) << id.error().message;
  o.id = *id;
  o.lastObserveSeq = 0xffffff;
  o.lastNotificationAt = at(1'790'000'005'000);
  ASSERT_TRUE(store->saveObservation(o).ok());
  core::Observation composite = observation("dev", {9});
  composite.operation = core::Operation::kObserveComposite;
  composite.path = "/3/0/9 /3303/0/5700";
  composite.attributes.clear();
  composite.acceptFormat.reset();
  ASSERT_TRUE(store->insertObservation(composite).ok());

  open();
  auto loaded = store->loadObservations();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->size(), 2u);
  const core::Observation& g = (*loaded)[0];
  EXPECT_EQ(g.id, *id);
  EXPECT_EQ(g.endpoint, "dev");
  EXPECT_EQ(g.operation, core::Operation::kObserve);
  EXPECT_EQ(g.path, o.path);
  EXPECT_EQ(g.token, o.token);
  EXPECT_EQ(g.attributes, "pmin=1&pmax=30");
  EXPECT_EQ(g.acceptFormat, 110);
  EXPECT_EQ(g.requestId, std::nullopt);
  EXPECT_EQ(g.createdAt, o.createdAt);
  EXPECT_EQ(g.lastObserveSeq, 0xffffffu);
  EXPECT_EQ(g.lastNotificationAt, o.lastNotificationAt);
  EXPECT_EQ((*loaded)[1].operation, core::Operation::kObserveComposite);
  EXPECT_EQ((*loaded)[1].path, "/3/0/9 /3303/0/5700");
  EXPECT_EQ((*loaded)[1].attributes, "");
  EXPECT_EQ((*loaded)[1].acceptFormat, std::nullopt);
  EXPECT_EQ(testing::queryInt(db->connection(), "SELECT count(*) FROM devices"), 1);
}

TEST_F(ObservationStoreTest, TheSetUpRequestIsReferenced) {
  auto requests = SqliteRequestStore::create(db->connection());
  ASSERT_TRUE(requests.ok());
  core::DownlinkRequest r;
  r.endpoint = "dev";
  r.operation = core::Operation::kObserve;
  r.path = "/3/0/9";
  r.createdAt = at(1'790'000'000'000);
  auto rid = (*requests)->insertRequest(r);
  ASSERT_TRUE(rid.ok());
  core::Observation o = observation("dev", {1});
  o.requestId = *rid;
  ASSERT_TRUE(store->insertObservation(o).ok());
  EXPECT_EQ(store->loadObservations()->at(0).requestId, *rid);
}

TEST_F(ObservationStoreTest, OneTokenPerDevice) {
  ASSERT_TRUE(store->insertObservation(observation("dev", {1})).ok());
  EXPECT_EQ(store->insertObservation(observation("dev", {1})).error().code, ErrorCode::kStorage);
  EXPECT_TRUE(store->insertObservation(observation("other", {1})).ok());
}

TEST_F(ObservationStoreTest, DeletingAnObservationKeepsItsNotifications) {
  auto id = store->insertObservation(observation("dev", {1}));
  ASSERT_TRUE(store->insertNotification(notification("dev", *id, 1), 10).ok());
  ASSERT_TRUE(store->deleteObservation(*id).ok());
  EXPECT_TRUE(store->loadObservations()->empty());
  auto listed = store->listNotifications("dev", 10, 0);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].observationId, std::nullopt);
  EXPECT_EQ((*listed)[0].path, "/3303/0/5700");
  core::Observation gone = observation("dev", {1});
  gone.id = *id;
  EXPECT_EQ(store->saveObservation(gone).error().code, ErrorCode::kNotFound);
}

TEST_F(ObservationStoreTest, NotificationsRoundTripInArrivalOrderWithPaging) {
  auto obs = store->insertObservation(observation("dev", {7, 7}));
  core::Notification bad = notification("dev", *obs, 1);
  bad.contentFormat = 11542;
  bad.payload = {0xc8, 0x09, 0x7f};
  bad.decodeError = "TLV: length 127 runs past the end";
  auto first = store->insertNotification(bad, 100);
  ASSERT_TRUE(first.ok()) << first.error().message;
  std::vector<std::int64_t> ids{*first};
  for (std::uint32_t seq = 2; seq <= 5; ++seq) {
    auto id = store->insertNotification(notification("dev", *obs, seq), 100);
    ASSERT_TRUE(id.ok());
    EXPECT_GT(*id, ids.back());
    ids.push_back(*id);
  }
  ASSERT_TRUE(store->insertNotification(notification("other", std::nullopt, 9), 100).ok());

  auto all = store->listNotifications("dev", 100, 0);
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 5u);
  const core::Notification& g = (*all)[0];
  EXPECT_EQ(g.id, ids[0]);
  EXPECT_EQ(g.endpoint, "dev");
  EXPECT_EQ(g.observationId, *obs);
  EXPECT_EQ(g.path, "/3303/0/5700");
  EXPECT_EQ(g.token, (core::Token{7, 7}));
  EXPECT_EQ(g.observeSeq, 1u);
  EXPECT_EQ(g.receivedAt, bad.receivedAt);
  EXPECT_EQ(g.contentFormat, 11542);
  EXPECT_EQ(g.payload, bad.payload);
  EXPECT_EQ(g.decodeError, bad.decodeError);
  EXPECT_EQ((*all)[1].decodeError, std::nullopt);

  auto page = store->listNotifications("dev", 2, ids[1]);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, ids[2]);
  EXPECT_EQ((*page)[1].id, ids[3]);
  EXPECT_TRUE(store->listNotifications("dev", 10, ids[4])->empty());
  EXPECT_TRUE(store->listNotifications("nobody", 10, 0)->empty());
}

TEST_F(ObservationStoreTest, EachDeviceKeepsItsNewestUpToTheBound) {
  for (std::uint32_t seq = 1; seq <= 10; ++seq) {
    ASSERT_TRUE(store->insertNotification(notification("dev", std::nullopt, seq), 3).ok());
    if (seq <= 2) {
      ASSERT_TRUE(store->insertNotification(notification("other", std::nullopt, seq), 3).ok());
    }
  }
  EXPECT_EQ(payloads("dev"), (std::vector<std::string>{"8", "9", "10"}));
  EXPECT_EQ(payloads("other"), (std::vector<std::string>{"1", "2"})) << "other devices untouched";
  // A lower bound (after a reload of the configuration) applies at the next notification.
  ASSERT_TRUE(store->insertNotification(notification("dev", std::nullopt, 11), 1).ok());
  EXPECT_EQ(payloads("dev"), std::vector<std::string>{"11"});
}

TEST_F(ObservationStoreTest, TheRealTableOnTopSurvivesARestart) {
  lwgate::testing::ManualClock clock;
  const core::Token token{1, 2, 3, 4, 5, 6, 7, 8};
  core::DownlinkRequest request;
  request.id = 0;  // no such request row: the reference stays NULL
  request.endpoint = "dev";
  request.operation = core::Operation::kObserve;
  request.path = "/3/0/9";
  request.acceptFormat = lwm2m::format::kTextPlain;
  request.token = token;
  auto message = [&](std::uint32_t seq, std::string text, bool piggybacked = false) {
    core::ObserveMessage m;
    m.token = token;
    m.code = 0x45;
    m.observe = seq;
    m.contentFormat = lwm2m::format::kTextPlain;
    m.payload.assign(text.begin(), text.end());
    m.piggybacked = piggybacked;
    return m;
  };
  std::int64_t id = 0;
  {
    core::ObservationTable table(clock, *store, {.maxNotificationsPerDevice = 3});
    ASSERT_EQ(*table.restore(), 0u);
    auto e = table.observeAnswered(request, message(5, "95", true));
    ASSERT_EQ(e.kind, core::ObservationTable::Event::Kind::kEstablished) << e.detail;
    id = e.observation->id;
    for (std::uint32_t seq = 6; seq <= 9; ++seq) {
      clock.advance(std::chrono::seconds(1));
      ASSERT_EQ(table.notify(id, message(seq, std::to_string(90 - seq))).kind,
                core::ObservationTable::Event::Kind::kStored);
    }
  }
  EXPECT_EQ(payloads("dev"), (std::vector<std::string>{"83", "82", "81"})) << "bound 3";

  open();
  core::ObservationTable table(clock, *store, {.maxNotificationsPerDevice = 3});
  ASSERT_EQ(*table.restore(), 1u);
  ASSERT_TRUE(table.find(id));
  EXPECT_EQ(table.find(id)->lastObserveSeq, 9u);
  EXPECT_EQ(table.notify(id, message(8, "late")).kind, core::ObservationTable::Event::Kind::kStale);
  EXPECT_EQ(table.notify(id, message(10, "80")).kind, core::ObservationTable::Event::Kind::kStored);
  auto requests = table.reestablish("dev", "loc", false);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].request.token, token);
}

}  // namespace
}  // namespace lwgate::db

namespace lwgate::db {
namespace {

// A Send (POST /dp) has no observation, path, token or sequence number; it shares the table and
// the per-device bound with notifications and keeps its kind.
TEST_F(ObservationStoreTest, SendsKeepTheirKindAndShareTheBound) {
  auto obs = store->insertObservation(observation("dev", {1}));
  ASSERT_TRUE(store->insertNotification(notification("dev", *obs, 1), 3).ok());
  core::Notification send;
  send.kind = core::NotificationKind::kSend;
  send.endpoint = "dev";
  send.receivedAt = at(1'790'000'000'100);
  send.contentFormat = 110;
  const std::string json = R"([{"n":"/3/0/9","v":95}])";
  send.payload.assign(json.begin(), json.end());
  for (int k = 0; k < 3; ++k) ASSERT_TRUE(store->insertNotification(send, 3).ok());
  auto listed = store->listNotifications("dev", 10, 0);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 3u);  // the notification was the oldest: pruned
  for (const auto& n : *listed) {
    EXPECT_EQ(n.kind, core::NotificationKind::kSend);
    EXPECT_EQ(n.observationId, std::nullopt);
    EXPECT_EQ(n.path, "");
    EXPECT_TRUE(n.token.empty());
    EXPECT_EQ(n.observeSeq, std::nullopt);
    EXPECT_EQ(n.contentFormat, 110);
    EXPECT_EQ(n.payload, send.payload);
  }
  ASSERT_TRUE(store->insertNotification(notification("dev", *obs, 2), 3).ok());
  listed = store->listNotifications("dev", 10, 0);
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ(listed->back().kind, core::NotificationKind::kNotify);
  EXPECT_EQ(listed->back().path, "/3303/0/5700");
}

}  // namespace
}  // namespace lwgate::db
