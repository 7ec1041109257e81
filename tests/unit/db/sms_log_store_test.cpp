#include "db/sms_log_store.h"

#include <gtest/gtest.h>

#include <memory>

#include "db/database.h"
#include "gateway/core/wake_policy.h"
#include "tests/support/manual_clock.h"
#include "tests/unit/db/test_support.h"

namespace lwgate::db {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

class SmsLogTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open() {
    log.reset();
    db.reset();
    auto opened = openDatabase(dir.file("sms.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    db.emplace(std::move(*opened));
    auto s = SqliteSmsLog::create(db->connection());
    ASSERT_TRUE(s.ok()) << s.error().message;
    log = std::move(*s);
  }

  testing::TempDir dir;
  lwgate::testing::ManualClock clock;
  std::optional<Database> db;
  std::unique_ptr<SqliteSmsLog> log;
};

TEST_F(SmsLogTest, OutgoingLifecycle) {
  testing::execOk(db->connection(),
                  "INSERT INTO devices (endpoint, created_at) VALUES ('dev-1', 0)");
  auto id =
      log->insertOutgoing("dev-1", "+4915112345678", "trigger", std::nullopt, 1, clock.wallNow());
  ASSERT_TRUE(id.ok()) << id.error().message;
  clock.advance(std::chrono::seconds(2));
  ASSERT_TRUE(log->updateStatus(*id, "sent", 42, "", clock.wallNow()).ok());
  auto entries = log->recent(10);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  const auto& e = (*entries)[0];
  EXPECT_EQ(e.direction, "out");
  EXPECT_EQ(e.endpoint, "dev-1");
  EXPECT_EQ(e.msisdn, "+4915112345678");
  EXPECT_EQ(e.kind, "trigger");
  EXPECT_EQ(e.status, "sent");
  EXPECT_EQ(e.reference, 42);
  EXPECT_EQ(e.updatedAt - e.createdAt, std::chrono::seconds(2));
  // A later update without a reference keeps it.
  ASSERT_TRUE(log->updateStatus(*id, "delivered", std::nullopt, "TP-ST 0", clock.wallNow()).ok());
  entries = log->recent(10);
  EXPECT_EQ((*entries)[0].reference, 42);
  EXPECT_EQ((*entries)[0].detail, "TP-ST 0");
  EXPECT_EQ(log->updateStatus(*id + 1, "sent", 1, "", clock.wallNow()).error().code,
            ErrorCode::kNotFound);
}

TEST_F(SmsLogTest, DeliveryReportsFindTheirSmsByReference) {
  auto older =
      log->insertOutgoing("", "+4915112345678", "trigger", std::nullopt, 1, clock.wallNow());
  auto newer =
      log->insertOutgoing("", "+4915112345678", "trigger", std::nullopt, 1, clock.wallNow());
  ASSERT_TRUE(older.ok() && newer.ok());
  ASSERT_TRUE(log->updateStatus(*older, "sent", 7, "", clock.wallNow()).ok());
  ASSERT_TRUE(log->updateStatus(*newer, "sent", 7, "", clock.wallNow()).ok());
  // National format in the report: matched on the last 8 digits; the newest one wins.
  auto matched = log->updateByReference("015112345678", 7, "delivered", "TP-ST 0", clock.wallNow());
  ASSERT_TRUE(matched.ok());
  EXPECT_TRUE(*matched);
  auto entries = log->recent(10);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ((*entries)[0].status, "delivered");
  EXPECT_EQ((*entries)[1].status, "sent");
  auto unknown = log->updateByReference("+4915112345678", 8, "delivered", "", clock.wallNow());
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(*unknown);
}

TEST_F(SmsLogTest, UnknownEndpointAndIncoming) {
  auto out = log->insertOutgoing("nobody", "+1", "other", std::nullopt, 2, clock.wallNow());
  ASSERT_TRUE(out.ok());
  const std::vector<std::uint8_t> coap{0x40, 0x02, 0x00, 0x01};
  auto in = log->insertIncoming("", "+2", "coap", 1, coap, "received", "", clock.wallNow());
  ASSERT_TRUE(in.ok());
  auto entries = log->recent(10);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].direction, "in");
  EXPECT_EQ((*entries)[0].payload, coap);
  EXPECT_EQ((*entries)[0].endpoint, "");
  EXPECT_EQ((*entries)[1].endpoint, "");
  EXPECT_EQ((*entries)[1].parts, 2u);
}

TEST_F(SmsLogTest, ListFiltersByDeviceAndDirectionTheNewestOrPagingOn) {
  testing::execOk(db->connection(),
                  "INSERT INTO devices (endpoint, created_at) VALUES ('dev-1', 0), ('dev-2', 0)");
  std::vector<std::int64_t> ids;
  for (int k = 0; k < 5; ++k) {
    auto id = log->insertOutgoing(k % 2 ? "dev-2" : "dev-1", "+1", "trigger", std::nullopt, 1,
                                  clock.wallNow());
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  const std::vector<std::uint8_t> payload{0x40};
  auto in = log->insertIncoming("", "+999", "coap", 1, payload, "ignored", "not a device",
                                clock.wallNow());
  ASSERT_TRUE(in.ok());

  auto idsOf = [](const Result<std::vector<SmsLogEntry>>& r) {
    std::vector<std::int64_t> out;
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (r) {
      for (const auto& e : *r) out.push_back(e.id);
    }
    return out;
  };
  SmsLogFilter f;
  f.limit = 3;  // the newest three, oldest first
  EXPECT_EQ(idsOf(log->list(f)), (std::vector<std::int64_t>{ids[3], ids[4], *in}));
  f.afterId = ids[0];  // paging on from an id
  EXPECT_EQ(idsOf(log->list(f)), (std::vector<std::int64_t>{ids[1], ids[2], ids[3]}));
  f = {};
  f.endpoint = "dev-1";
  EXPECT_EQ(idsOf(log->list(f)), (std::vector<std::int64_t>{ids[0], ids[2], ids[4]}));
  f = {};
  f.direction = "in";
  auto rows = log->list(f);
  ASSERT_EQ(idsOf(rows), std::vector<std::int64_t>{*in});
  EXPECT_EQ((*rows)[0].endpoint, "");
  EXPECT_EQ((*rows)[0].status, "ignored");
  f.endpoint = "dev-1";
  EXPECT_TRUE(idsOf(log->list(f)).empty());
  f = {};
  f.endpoint = "dev-2";
  f.direction = "out";
  rows = log->list(f);
  EXPECT_EQ(idsOf(rows), (std::vector<std::int64_t>{ids[1], ids[3]}));
}

TEST_F(SmsLogTest, BudgetsCountWhatTheLogHoldsAcrossARestart) {
  testing::execOk(db->connection(),
                  "INSERT INTO devices (endpoint, created_at) VALUES ('dev-1', 0)");
  const core::WallTime start = clock.wallNow();
  auto a = log->insertOutgoing("dev-1", "+1", "trigger", std::nullopt, 1, start - hours(30));
  auto b = log->insertOutgoing("dev-1", "+1", "trigger", std::nullopt, 1, start - minutes(30));
  auto c = log->insertOutgoing("dev-1", "+1", "trigger", std::nullopt, 1, start - minutes(20));
  // CoAP over SMS (the SMS binding) counts in the overall budget only.
  auto e = log->insertOutgoing("dev-1", "+1", "coap", std::nullopt, 2, start - minutes(10));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && e.ok());
  ASSERT_TRUE(log->updateStatus(*c, "failed", std::nullopt, "+CMS ERROR: 500", start).ok());
  open();  // the gateway restarts

  auto history = log->outgoingSince(start - hours(24));
  ASSERT_TRUE(history.ok()) << history.error().message;
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].endpoint, "dev-1");
  EXPECT_FALSE((*history)[0].failed);
  EXPECT_TRUE((*history)[0].trigger);
  EXPECT_TRUE((*history)[1].failed);
  EXPECT_FALSE((*history)[2].trigger);
  EXPECT_EQ((*history)[2].parts, 2u);

  core::WakePolicy policy(clock, core::WakeConfig{});
  policy.restore(*history);
  core::WakeCandidate cand;
  cand.endpoint = "dev-1";
  cand.registered = cand.queueMode = cand.asleep = true;
  cand.smsNumber = "+1";
  cand.lastUpdate = clock.wallNow();
  cand.lifetime = hours(24);
  cand.deadline = clock.wallNow() + hours(1);
  EXPECT_TRUE(policy.decide(cand).send) << policy.decide(cand).reason;  // 1 of 2 this hour
  policy.sent("dev-1");
  clock.advance(minutes(10));
  auto d = policy.decide(cand);
  EXPECT_FALSE(d.send);
  EXPECT_NE(d.reason.find("2 SMS to the device in the last hour"), std::string::npos) << d.reason;
}

}  // namespace
}  // namespace lwgate::db
