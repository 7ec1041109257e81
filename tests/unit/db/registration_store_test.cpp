// SqliteRegistrationStore against the core::RegistrationStore contract: what one call commits is
// exactly what a later load (also from a new connection) sees, and a failed call changes nothing.
#include "db/registration_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/database.h"
#include "tests/unit/db/test_support.h"

namespace lwgate::db {
namespace {

using testing::execOk;
using ::testing::HasSubstr;
using testing::queryInt;
using testing::TempDir;

// Stored times have millisecond resolution, so tests use whole milliseconds.
core::WallTime at(std::int64_t ms) {
  return core::fromUnixMillis(ms);
}

// A registration with every persisted field set to something other than its default.
core::Registration fullRegistration(const std::string& endpoint, const std::string& location) {
  core::Registration reg;
  reg.location = location;
  reg.endpoint = endpoint;
  reg.lifetime = 4294967295u;  // the largest lt= a client may send
  reg.lifetimeSyncPending = true;
  reg.version = "1.1";
  reg.binding = {.transports = "US", .queueMode = true, .text = "UQS"};
  reg.smsNumber = "+15551234567";
  reg.objects.altPath = "/lwm2m";
  reg.objects.contentFormats = {60, 110, 11543};
  reg.objects.links = {
      {.objectId = 1, .instanceId = 0, .version = std::nullopt},
      {.objectId = 3, .instanceId = std::nullopt, .version = "1.1"},
      {.objectId = 3, .instanceId = 0, .version = std::nullopt},
      {.objectId = 5, .instanceId = std::nullopt, .version = std::nullopt},
      {.objectId = 19, .instanceId = 65535, .version = std::nullopt},
      {.objectId = 65535, .instanceId = std::nullopt, .version = "2.0"},
  };
  reg.peer = {.transport = "udp", .address = "2001:db8::1:2", .port = 65535};
  reg.registeredAt = at(1'790'000'000'123);
  reg.updatedAt = at(1'790'000'100'456);
  reg.lastSeen = at(1'790'000'200'789);
  return reg;
}

// Registration has no operator== (expiresAt is not persisted); compare what is.
void expectSame(const core::Registration& got, const core::Registration& want) {
  EXPECT_EQ(got.location, want.location);
  EXPECT_EQ(got.endpoint, want.endpoint);
  EXPECT_EQ(got.lifetime, want.lifetime);
  EXPECT_EQ(got.lifetimeSyncPending, want.lifetimeSyncPending);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(got.binding, want.binding);
  EXPECT_EQ(got.smsNumber, want.smsNumber);
  EXPECT_EQ(got.objects, want.objects);
  EXPECT_EQ(got.peer, want.peer);
  EXPECT_EQ(got.registeredAt, want.registeredAt);
  EXPECT_EQ(got.updatedAt, want.updatedAt);
  EXPECT_EQ(got.lastSeen, want.lastSeen);
  EXPECT_EQ(got.expiresAt, core::SteadyTime{});
}

class RegistrationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  // Closes the store and the connection and opens the file again, as a restart does.
  void reopen(const DatabaseOptions& options = {}) {
    store.reset();
    db.reset();
    auto opened = openDatabase(path, options);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    db.emplace(std::move(*opened));
    auto created = SqliteRegistrationStore::create(db->connection());
    ASSERT_TRUE(created.ok()) << created.error().message;
    store = std::move(*created);
  }

  std::vector<core::Registration> load() {
    auto loaded = store->loadRegistrations();
    EXPECT_TRUE(loaded.ok()) << loaded.error().message;
    return loaded.ok() ? *loaded : std::vector<core::Registration>{};
  }

  void insertOk(const core::Registration& reg) {
    auto r = store->insertRegistration(reg);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  std::int64_t count(const std::string& table) {
    return queryInt(db->connection(), "SELECT count(*) FROM " + table);
  }
  std::int64_t deviceId(const std::string& endpoint) {
    return queryInt(db->connection(), "SELECT coalesce((SELECT id FROM devices WHERE endpoint = '" +
                                          endpoint + "'), 0)");
  }

  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  std::optional<Database> db;
  std::unique_ptr<SqliteRegistrationStore> store;
};

TEST_F(RegistrationStoreTest, RoundTripsEveryField) {
  const auto reg = fullRegistration("urn:imei:490154203237518", "a1b2");
  insertOk(reg);
  auto loaded = load();
  ASSERT_EQ(loaded.size(), 1u);
  expectSame(loaded[0], reg);
}

TEST_F(RegistrationStoreTest, RoundTripsDefaultsAndEmptyValues) {
  core::Registration reg;  // 1.0, lifetime default, no sms, no objects, "/" alt path
  reg.location = "x";
  reg.endpoint = "ep with spaces and ünïcode";
  reg.binding = {.transports = "U", .queueMode = false, .text = ""};
  reg.peer = {.transport = "udp", .address = "127.0.0.1", .port = 0};
  reg.registeredAt = reg.updatedAt = reg.lastSeen = at(0);
  insertOk(reg);
  auto loaded = load();
  ASSERT_EQ(loaded.size(), 1u);
  expectSame(loaded[0], reg);
  // No SMS number is NULL in the table, not an empty string.
  EXPECT_EQ(count("registrations WHERE sms_number IS NULL"), 1);
}

TEST_F(RegistrationStoreTest, ObjectLinksAreStoredAsCanonicalLinkFormat) {
  const auto reg = fullRegistration("ep", "loc");
  insertOk(reg);
  EXPECT_EQ(testing::queryText(db->connection(), "SELECT object_links FROM registrations"),
            lwm2m::formatObjectList(reg.objects));
}

TEST_F(RegistrationStoreTest, ReRegistrationReplacesTheRegistrationAndKeepsTheDevice) {
  insertOk(fullRegistration("ep1", "old"));
  insertOk(fullRegistration("ep2", "other"));
  const auto id = deviceId("ep1");
  ASSERT_NE(id, 0);
  // A queued request of the device must survive its re-registration (issue: queue survives).
  execOk(db->connection(),
         "INSERT INTO requests (device_id, seq, operation, path, created_at) "
         "VALUES (" +
             std::to_string(id) + ", 1, 'read', '/3/0/0', 1)");

  auto again = fullRegistration("ep1", "new");
  again.peer.address = "192.0.2.7";
  again.objects.links.pop_back();
  insertOk(again);

  EXPECT_EQ(deviceId("ep1"), id);
  EXPECT_EQ(count("devices"), 2);
  EXPECT_EQ(count("registrations"), 2);
  EXPECT_EQ(count("requests"), 1);
  auto loaded = load();
  ASSERT_EQ(loaded.size(), 2u);
  const auto& mine = loaded[0].endpoint == "ep1" ? loaded[0] : loaded[1];
  expectSame(mine, again);
  EXPECT_EQ(count("registrations WHERE location = 'old'"), 0);
}

TEST_F(RegistrationStoreTest, UpdateRewritesEveryPersistedField) {
  auto reg = fullRegistration("ep", "loc");
  insertOk(reg);
  reg.lifetime = 60;
  reg.lifetimeSyncPending = false;
  reg.binding = {.transports = "U", .queueMode = false, .text = "U"};
  reg.smsNumber.clear();
  reg.objects.altPath = "/";
  reg.objects.contentFormats.clear();
  reg.objects.links = {{.objectId = 3, .instanceId = 0, .version = std::nullopt}};
  reg.peer = {.transport = "udp", .address = "::1", .port = 5683};
  reg.updatedAt = at(1'790'000'300'000);
  reg.lastSeen = at(1'790'000'300'001);
  auto r = store->updateRegistration(reg);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto loaded = load();
  ASSERT_EQ(loaded.size(), 1u);
  expectSame(loaded[0], reg);
}

TEST_F(RegistrationStoreTest, UpdateOfUnknownLocationIsNotFound) {
  insertOk(fullRegistration("ep", "loc"));
  auto r = store->updateRegistration(fullRegistration("ep", "nope"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(r.error().message, HasSubstr("nope"));
  expectSame(load().at(0), fullRegistration("ep", "loc"));
}

TEST_F(RegistrationStoreTest, DeleteRemovesTheRegistrationButKeepsTheDevice) {
  insertOk(fullRegistration("ep", "loc"));
  const auto id = deviceId("ep");
  auto r = store->deleteRegistration("loc");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(load().empty());
  EXPECT_EQ(deviceId("ep"), id);

  auto again = store->deleteRegistration("loc");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);

  // Registering again after expiry finds the same device row.
  insertOk(fullRegistration("ep", "loc2"));
  EXPECT_EQ(deviceId("ep"), id);
}

TEST_F(RegistrationStoreTest, ANewConnectionSeesEverythingCommitted) {
  insertOk(fullRegistration("a", "la"));
  insertOk(fullRegistration("b", "lb"));
  insertOk(fullRegistration("c", "lc"));
  auto b = fullRegistration("b", "lb");
  b.lifetime = 120;
  b.updatedAt = at(1'790'000'999'000);
  ASSERT_TRUE(store->updateRegistration(b).ok());
  ASSERT_TRUE(store->deleteRegistration("lc").ok());

  reopen();
  auto loaded = load();
  ASSERT_EQ(loaded.size(), 2u);
  std::sort(loaded.begin(), loaded.end(),
            [](const auto& x, const auto& y) { return x.location < y.location; });
  expectSame(loaded[0], fullRegistration("a", "la"));
  expectSame(loaded[1], b);
  EXPECT_EQ(count("devices"), 3);
  EXPECT_TRUE(db->checkIntegrity().ok());
}

TEST_F(RegistrationStoreTest, FailedRegisterLeavesNothingBehind) {
  insertOk(fullRegistration("first", "taken"));
  // A new endpoint whose registration collides on the location: the device row inserted earlier
  // in the same transaction must be rolled back with it.
  auto r = store->insertRegistration(fullRegistration("second", "taken"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kStorage);
  EXPECT_THAT(r.error().message, HasSubstr("storing registration taken of endpoint second"));
  EXPECT_THAT(r.error().message, HasSubstr("UNIQUE constraint failed: registrations.location"));
  EXPECT_EQ(deviceId("second"), 0);
  EXPECT_EQ(count("devices"), 1);

  // A known endpoint re-registering onto a taken location: its old registration, deleted
  // earlier in the transaction, comes back.
  insertOk(fullRegistration("third", "mine"));
  auto again = store->insertRegistration(fullRegistration("third", "taken"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(count("registrations WHERE location = 'mine'"), 1);
  EXPECT_EQ(load().size(), 2u);
  EXPECT_TRUE(db->connection().autocommit());

  // The store is still usable afterwards.
  insertOk(fullRegistration("second", "free"));
  EXPECT_EQ(load().size(), 3u);
}

TEST_F(RegistrationStoreTest, CallsInsideAnOuterTransactionCommitTogether) {
  // Group commit: the daemon wraps a burst of events in one transaction; each store call is a
  // savepoint in it, so one failing call drops only its own changes.
  insertOk(fullRegistration("old", "taken"));
  {
    auto batch = Transaction::begin(db->connection());
    ASSERT_TRUE(batch.ok());
    insertOk(fullRegistration("a", "la"));
    EXPECT_FALSE(store->insertRegistration(fullRegistration("b", "taken")).ok());
    EXPECT_FALSE(db->connection().autocommit());  // the batch survives the failed call
    insertOk(fullRegistration("c", "lc"));
    ASSERT_TRUE(store->deleteRegistration("taken").ok());

    Connection other = testing::rawOpen(path, OpenMode::kReadOnly);
    EXPECT_EQ(queryInt(other, "SELECT count(*) FROM devices"), 1);  // nothing visible yet
    ASSERT_TRUE(batch->commit().ok());
  }
  reopen();
  auto loaded = load();
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[0].location, "la");
  EXPECT_EQ(loaded[1].location, "lc");
  EXPECT_EQ(deviceId("b"), 0);
  EXPECT_EQ(count("devices"), 3);
}

TEST_F(RegistrationStoreTest, BusyDatabaseIsAStorageErrorAndChangesNothing) {
  reopen({.busyTimeout = std::chrono::milliseconds(0)});  // no waiting in tests
  insertOk(fullRegistration("ep", "loc"));
  Connection other = testing::rawOpen(path);
  auto held = Transaction::begin(other);
  ASSERT_TRUE(held.ok());

  auto insert = store->insertRegistration(fullRegistration("ep2", "loc2"));
  ASSERT_FALSE(insert.ok());
  EXPECT_EQ(insert.error().code, ErrorCode::kStorage);
  EXPECT_THAT(insert.error().message, HasSubstr("database is locked"));
  auto update = store->updateRegistration(fullRegistration("ep", "loc"));
  ASSERT_FALSE(update.ok());
  EXPECT_EQ(update.error().code, ErrorCode::kStorage);
  auto remove = store->deleteRegistration("loc");
  ASSERT_FALSE(remove.ok());
  EXPECT_EQ(remove.error().code, ErrorCode::kStorage);

  held->rollback();
  EXPECT_EQ(count("devices"), 1);
  EXPECT_EQ(load().size(), 1u);
}

TEST_F(RegistrationStoreTest, LoadSkipsARowWhoseObjectLinksNoLongerParse) {
  insertOk(fullRegistration("good", "g"));
  insertOk(fullRegistration("bad", "b"));
  execOk(db->connection(), "UPDATE registrations SET object_links = '</0/0>' WHERE location = 'b'");
  auto loaded = load();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].endpoint, "good");
}

TEST_F(RegistrationStoreTest, LoadsManyInRegistrationOrder) {
  constexpr int kCount = 500;
  for (int i = 0; i < kCount; ++i) {
    auto reg = fullRegistration("ep" + std::to_string(i), "l" + std::to_string(i));
    reg.registeredAt = at(1'790'000'000'000 + i);
    insertOk(reg);
  }
  auto loaded = load();
  ASSERT_EQ(loaded.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(loaded[i].endpoint, "ep" + std::to_string(i));
}

TEST_F(RegistrationStoreTest, DeletingTheDeviceCascades) {
  // An operator removing a device takes its registration and queue with it (foreign_keys=ON).
  insertOk(fullRegistration("ep", "loc"));
  const auto id = deviceId("ep");
  execOk(db->connection(),
         "INSERT INTO requests (device_id, seq, operation, path, created_at) "
         "VALUES (" +
             std::to_string(id) + ", 1, 'read', '/3/0/0', 1)");
  execOk(db->connection(), "DELETE FROM devices WHERE endpoint = 'ep'");
  EXPECT_EQ(count("registrations"), 0);
  EXPECT_EQ(count("requests"), 0);
}

}  // namespace
}  // namespace lwgate::db
