// SqliteRequestStore against the core::RequestStore contract, and with the real queue on top:
// what the queue persisted is what a new queue over a new connection starts from.
#include "db/request_store.h"

#include <gtest/gtest.h>

#include <memory>

#include "db/database.h"
#include "gateway/core/queue.h"
#include "tests/support/manual_clock.h"
#include "tests/unit/db/test_support.h"

namespace lwgate::db {
namespace {

core::WallTime at(std::int64_t ms) {
  return core::fromUnixMillis(ms);
}

core::DownlinkRequest fullRequest(const std::string& endpoint) {
  core::DownlinkRequest r;
  r.endpoint = endpoint;
  r.operation = core::Operation::kWritePartial;
  r.path = "/3/0/14";
  r.payload = {0xc8, 0x0e, 0x06, '+', '0', '2', ':', '0', '0'};
  r.contentFormat = 11542;
  r.acceptFormat = 112;
  r.idempotencyKey = "tz-2026";
  r.createdAt = at(1'790'000'000'123);
  r.deadline = at(1'790'086'400'123);
  r.urgent = true;
  return r;
}

class RequestStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = openDatabase(dir.file("q.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    db.emplace(std::move(*opened));
    auto s = SqliteRequestStore::create(db->connection());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store = std::move(*s);
  }

  testing::TempDir dir;
  std::optional<Database> db;
  std::unique_ptr<SqliteRequestStore> store;
};

TEST_F(RequestStoreTest, LastMessageIdIsTheExchangeStartedLast) {
  auto none = store->lastMessageId();
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_FALSE(none->has_value());
  // Sent at 1000 with 65530, at 3000 with 7 (the counter wrapped), at 2000 with 65535; one
  // queued without an exchange.
  const std::vector<std::pair<std::int64_t, std::uint16_t>> sent{
      {1000, 65530}, {3000, 7}, {2000, 65535}};
  for (const auto& [ms, mid] : sent) {
    auto id = store->insertRequest(fullRequest("dev-" + std::to_string(ms)));
    ASSERT_TRUE(id.ok()) << id.error().message;
    core::DownlinkRequest r = fullRequest("dev-" + std::to_string(ms));
    r.id = *id;
    r.state = core::RequestState::kInFlight;
    r.messageId = mid;
    r.sentAt = at(ms);
    ASSERT_TRUE(store->saveRequest(r).ok());
  }
  ASSERT_TRUE(store->insertRequest(fullRequest("dev-queued")).ok());
  auto last = store->lastMessageId();
  ASSERT_TRUE(last.ok()) << last.error().message;
  EXPECT_EQ(*last, std::optional<std::uint16_t>(7));
}

TEST_F(RequestStoreTest, EveryFieldRoundTrips) {
  auto id = store->insertRequest(fullRequest("dev"));
  ASSERT_TRUE(id.ok()) << id.error().message;
  core::DownlinkRequest r = fullRequest("dev");
  r.id = *id;
  r.state = core::RequestState::kDone;
  r.attempts = 2;
  r.messageId = 65535;
  r.token = {1, 2, 3, 4, 5, 6, 7, 8};
  r.sentAt = at(1'790'000'001'000);
  r.responseCode = 0x44;
  r.responsePayload = {0x00, 0xff};
  r.responseFormat = 0;
  r.reason = "fine";
  r.finishedAt = at(1'790'000'002'000);
  ASSERT_TRUE(store->saveRequest(r).ok());

  auto got = store->findRequest(*id);
  ASSERT_TRUE(got.ok() && got->has_value());
  const auto& g = **got;
  EXPECT_EQ(g.endpoint, "dev");
  EXPECT_EQ(g.operation, core::Operation::kWritePartial);
  EXPECT_EQ(g.path, r.path);
  EXPECT_EQ(g.payload, r.payload);
  EXPECT_EQ(g.contentFormat, 11542);
  EXPECT_EQ(g.acceptFormat, 112);
  EXPECT_EQ(g.idempotencyKey, "tz-2026");
  EXPECT_EQ(g.state, core::RequestState::kDone);
  EXPECT_EQ(g.createdAt, r.createdAt);
  EXPECT_EQ(g.deadline, r.deadline);
  EXPECT_EQ(g.attempts, 2u);
  EXPECT_EQ(g.messageId, 65535);
  EXPECT_EQ(g.token, r.token);
  EXPECT_EQ(g.sentAt, r.sentAt);
  EXPECT_EQ(g.responseCode, 0x44);
  EXPECT_EQ(g.responsePayload, r.responsePayload);
  EXPECT_EQ(g.responseFormat, 0);
  EXPECT_EQ(g.reason, "fine");
  EXPECT_EQ(g.finishedAt, r.finishedAt);
  EXPECT_TRUE(g.urgent);
  // Not urgent is the default.
  auto plain = fullRequest("dev");
  plain.urgent = false;
  plain.idempotencyKey.reset();
  auto plainId = store->insertRequest(plain);
  ASSERT_TRUE(plainId.ok());
  EXPECT_FALSE((*store->findRequest(*plainId))->urgent);
}

TEST_F(RequestStoreTest, ACallersTokenIsStoredWithTheSubmission) {
  core::DownlinkRequest r = fullRequest("dev");
  r.operation = core::Operation::kCancelObserve;
  r.token = {9, 8, 7};
  auto id = store->insertRequest(r);
  ASSERT_TRUE(id.ok()) << id.error().message;
  auto loaded = store->loadUnfinished();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].token, r.token);
}

TEST_F(RequestStoreTest, UnfinishedComeBackPerDeviceInQueueOrder) {
  std::vector<std::int64_t> ids;
  for (const char* ep : {"b", "a", "b", "a", "b"}) {
    core::DownlinkRequest r = fullRequest(ep);
    r.idempotencyKey.reset();
    auto id = store->insertRequest(r);
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  // The second of "b" finishes: it is no longer loaded.
  auto done = store->findRequest(ids[2]);
  ASSERT_TRUE(done.ok());
  core::DownlinkRequest d = **done;
  d.state = core::RequestState::kCancelled;
  d.finishedAt = at(1);
  ASSERT_TRUE(store->saveRequest(d).ok());

  auto loaded = store->loadUnfinished();
  ASSERT_TRUE(loaded.ok());
  std::vector<std::int64_t> order;
  for (const auto& r : *loaded) order.push_back(r.id);
  // Device "b" was created first, so its rows come first; within a device, submission order.
  EXPECT_EQ(order, (std::vector<std::int64_t>{ids[0], ids[4], ids[1], ids[3]}));
}

TEST_F(RequestStoreTest, ListFiltersByDeviceAndStateAndPages) {
  std::vector<std::int64_t> ids;
  for (const char* ep : {"a", "b", "a", "a"}) {
    core::DownlinkRequest r = fullRequest(ep);
    r.idempotencyKey.reset();
    ids.push_back(*store->insertRequest(r));
  }
  core::DownlinkRequest d = **store->findRequest(ids[2]);
  d.state = core::RequestState::kDone;
  d.finishedAt = at(2);
  ASSERT_TRUE(store->saveRequest(d).ok());
  auto idsOf = [&](const SqliteRequestStore::Filter& f) {
    auto listed = store->listRequests(f);
    EXPECT_TRUE(listed.ok()) << listed.error().message;
    std::vector<std::int64_t> out;
    for (const auto& r : *listed) out.push_back(r.id);
    return out;
  };
  auto filter = [](std::optional<std::string> endpoint, std::vector<core::RequestState> states = {},
                   std::int64_t after = 0, std::size_t limit = 100) {
    SqliteRequestStore::Filter f;
    f.endpoint = std::move(endpoint);
    f.states = std::move(states);
    f.afterId = after;
    f.limit = limit;
    return f;
  };
  EXPECT_EQ(idsOf(filter(std::nullopt)), ids);
  EXPECT_EQ(idsOf(filter("a")), (std::vector<std::int64_t>{ids[0], ids[2], ids[3]}));
  EXPECT_EQ(idsOf(filter("a", {core::RequestState::kQueued})),
            (std::vector<std::int64_t>{ids[0], ids[3]}));
  EXPECT_EQ(idsOf(filter(std::nullopt, {core::RequestState::kDone, core::RequestState::kFailed})),
            (std::vector<std::int64_t>{ids[2]}));
  EXPECT_EQ(idsOf(filter(std::nullopt, {}, ids[0], 2)),
            (std::vector<std::int64_t>{ids[1], ids[2]}));
  EXPECT_TRUE(idsOf(filter("nobody")).empty());
  EXPECT_TRUE(*store->deviceKnown("a"));
  EXPECT_FALSE(*store->deviceKnown("nobody"));
}

TEST_F(RequestStoreTest, IdempotencyKeyIsPerDevice) {
  ASSERT_TRUE(store->insertRequest(fullRequest("dev")).ok());
  auto found = store->findByIdempotencyKey("dev", "tz-2026");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_FALSE(store->findByIdempotencyKey("other", "tz-2026")->has_value());
  EXPECT_FALSE(store->findByIdempotencyKey("dev", "nope")->has_value());
  // The same key on another device is another request.
  EXPECT_TRUE(store->insertRequest(fullRequest("other")).ok());
  // On the same device the schema refuses a second one and nothing is stored.
  EXPECT_FALSE(store->insertRequest(fullRequest("dev")).ok());
  EXPECT_EQ(testing::queryInt(db->connection(), "SELECT count(*) FROM requests"), 2);
}

TEST_F(RequestStoreTest, SavingAnUnknownRequestIsNotFound) {
  core::DownlinkRequest r = fullRequest("dev");
  r.id = 4242;
  auto saved = store->saveRequest(r);
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.error().code, ErrorCode::kNotFound);
}

// The queue over the real store: submit, send, "crash", and a new queue over a new connection
// resends the in-flight request with the same Message ID and token.
TEST_F(RequestStoreTest, QueueStateSurvivesANewConnection) {
  lwgate::testing::ManualClock clock;
  clock.advance(std::chrono::milliseconds(0));
  std::uint16_t mid = 7;
  auto ids = [&mid] {
    ++mid;
    return core::DownlinkQueue::TransmissionIds{mid, {0xab, static_cast<std::uint8_t>(mid)}};
  };
  struct Sent : core::QueueListener {
    void send(const core::DownlinkRequest& r) override { sent.push_back(r); }
    void finished(const core::DownlinkRequest&) override {}
    std::vector<core::DownlinkRequest> sent;
  } first, second;
  {
    core::DownlinkQueue q(clock, *store, {}, ids);
    q.setListener(&first);
    q.deviceRegistered("dev", false);
    core::DownlinkRequest r;
    r.endpoint = "dev";
    r.operation = core::Operation::kExecute;
    r.path = "/3/0/4";
    ASSERT_TRUE(q.submit(r).ok());
    r.operation = core::Operation::kRead;
    r.path = "/3/0/0";
    ASSERT_TRUE(q.submit(r).ok());
    ASSERT_EQ(first.sent.size(), 1u);
  }
  auto reopened = Connection::open(dir.file("q.db"), OpenMode::kReadWrite);
  ASSERT_TRUE(reopened.ok());
  auto store2 = SqliteRequestStore::create(*reopened);
  ASSERT_TRUE(store2.ok());
  clock.advance(std::chrono::seconds(5));
  core::DownlinkQueue q(clock, **store2, {}, ids);
  q.setListener(&second);
  auto restored = q.restore();
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_EQ(restored->resumed, 1u);
  EXPECT_EQ(restored->queued, 1u);
  q.deviceRegistered("dev", false);
  ASSERT_EQ(second.sent.size(), 1u);
  EXPECT_EQ(second.sent[0].path, "/3/0/4");
  EXPECT_EQ(second.sent[0].messageId, first.sent[0].messageId);
  EXPECT_EQ(second.sent[0].token, first.sent[0].token);
}

}  // namespace
}  // namespace lwgate::db
