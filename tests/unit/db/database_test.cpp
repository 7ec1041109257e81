// Opening, pragmas, migrations, backups before migrating, and refusing files that are not ours.
#include "db/database.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "db/registration_store.h"
#include "tests/unit/db/test_support.h"

namespace lwgate::db {
namespace {

using testing::execOk;
using ::testing::HasSubstr;
using testing::queryInt;
using testing::queryText;
using testing::rawOpen;
using testing::TempDir;

Database openOk(const std::string& path, const DatabaseOptions& options = {}) {
  auto db = openDatabase(path, options);
  if (!db) {
    ADD_FAILURE() << db.error().message;
    std::abort();
  }
  return std::move(*db);
}

Database openOk(const std::string& path, const DatabaseOptions& options,
                std::span<const Migration> list) {
  auto db = openDatabase(path, options, list);
  if (!db) {
    ADD_FAILURE() << db.error().message;
    std::abort();
  }
  return std::move(*db);
}

// ---- Fresh databases ---------------------------------------------------------------------------

TEST(DatabaseTest, FreshDatabaseIsAtTheLatestVersionWithOurPragmas) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  Database db = openOk(path, {.busyTimeout = std::chrono::milliseconds(1234)});
  Connection& c = db.connection();

  EXPECT_EQ(db.schemaVersion(), latestSchemaVersion());
  EXPECT_EQ(db.migration().fromVersion, 0);
  EXPECT_EQ(db.migration().toVersion, latestSchemaVersion());
  EXPECT_EQ(db.migration().backupPath, "");  // nothing worth keeping in a new file
  EXPECT_EQ(db.path(), path);
  EXPECT_EQ(queryInt(c, "PRAGMA user_version"), latestSchemaVersion());
  EXPECT_EQ(queryInt(c, "PRAGMA application_id"), kApplicationId);
  EXPECT_EQ(queryText(c, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(queryInt(c, "PRAGMA synchronous"), 1);  // NORMAL
  EXPECT_EQ(queryInt(c, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(queryInt(c, "PRAGMA busy_timeout"), 1234);
  EXPECT_TRUE(db.checkIntegrity().ok());
  // Credentials will live here: only the lwgate user may read it, and SQLite's side files
  // inherit the mode.
  EXPECT_EQ(testing::fileMode(path), 0600u);
  EXPECT_EQ(testing::fileMode(path + "-wal"), 0600u);
  EXPECT_FALSE(testing::exists(backupPathFor(path, 0)));
}

TEST(DatabaseTest, SchemaHasTheTablesTheNextFeaturesNeed) {
  TempDir dir;
  Database db = openOk(dir.file("lwgate.db"));
  for (const char* table :
       {"devices", "registrations", "requests", "observations", "notifications", "sms_log"}) {
    EXPECT_EQ(queryInt(db.connection(),
                       std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                   "name = '") +
                           table + "'"),
              1)
        << table;
  }
}

TEST(DatabaseTest, SynchronousFullOption) {
  TempDir dir;
  Database db = openOk(dir.file("lwgate.db"), {.synchronous = Synchronous::kFull});
  EXPECT_EQ(queryInt(db.connection(), "PRAGMA synchronous"), 2);
}

TEST(DatabaseTest, ExclusiveModeKeepsOtherProcessesOut) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  {
    Database db = openOk(path, {.exclusive = true});
    EXPECT_EQ(queryText(db.connection(), "PRAGMA locking_mode"), "exclusive");
    EXPECT_EQ(queryText(db.connection(), "PRAGMA journal_mode"), "wal");
    auto store = SqliteRegistrationStore::create(db.connection());
    ASSERT_TRUE(store.ok());
    core::Registration reg;
    reg.location = "a";
    reg.endpoint = "ep";
    ASSERT_TRUE((*store)->insertRegistration(reg).ok());

    auto second = openDatabase(path, {.busyTimeout = std::chrono::milliseconds(0)});
    ASSERT_FALSE(second.ok());
    EXPECT_THAT(second.error().message, HasSubstr("database is locked"));
  }
  // Released on close; everything was committed.
  Database db = openOk(path);
  EXPECT_EQ(queryInt(db.connection(), "SELECT count(*) FROM registrations"), 1);
}

TEST(DatabaseTest, ReopeningACurrentDatabaseChangesNothingAndTakesNoBackup) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  { openOk(path); }
  Database db = openOk(path);
  EXPECT_EQ(db.migration().fromVersion, latestSchemaVersion());
  EXPECT_EQ(db.migration().toVersion, latestSchemaVersion());
  EXPECT_EQ(db.migration().backupPath, "");
  EXPECT_FALSE(testing::exists(backupPathFor(path, latestSchemaVersion())));
}

TEST(DatabaseTest, ConnectionStaysValidWhenTheDatabaseMoves) {
  TempDir dir;
  Database first = openOk(dir.file("lwgate.db"));
  auto store = SqliteRegistrationStore::create(first.connection());
  ASSERT_TRUE(store.ok());
  Database moved = std::move(first);
  core::Registration reg;
  reg.location = "a";
  reg.endpoint = "ep";
  auto r = (*store)->insertRegistration(reg);
  EXPECT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(queryInt(moved.connection(), "SELECT count(*) FROM registrations"), 1);
}

// ---- Upgrading from every earlier version -------------------------------------------------------

// Rows to put into a database at version k (index k) and a query that must still return
// `expected` once the database is at the latest version. Every new migration adds an entry, so
// each shipped schema keeps being upgraded in the tests. Version 0 is an empty file.
struct VersionFixture {
  const char* fill;
  const char* check;
  std::int64_t expected;
};
const std::array kFixtures = {
    VersionFixture{"", "SELECT count(*) FROM devices", 0},
    // Version 2 added notifications.decode_error and observations.composite.
    VersionFixture{
        "INSERT INTO devices (id, endpoint, created_at) VALUES (1, 'dev', 0);"
        "INSERT INTO observations (id, device_id, path, token, created_at) "
        "  VALUES (1, 1, '/3/0/9', x'0102', 0);"
        "INSERT INTO notifications (device_id, observation_id, path, received_at, payload) "
        "  VALUES (1, 1, '/3/0/9', 0, '95');",
        "SELECT count(*) FROM notifications n JOIN observations o ON o.id = n.observation_id "
        "WHERE n.decode_error IS NULL AND o.composite = 0 AND n.payload = '95'",
        1},
    // Version 3 is empty (it was reserved for the bridge, whose tables came as version 5); a
    // database that passed it gets the bridge's tables too.
    VersionFixture{"INSERT INTO devices (id, endpoint, created_at) VALUES (1, 'dev', 0);",
                   "SELECT (SELECT count(*) FROM devices WHERE endpoint = 'dev') + "
                   "  (SELECT count(*) FROM upstream_registrations)",
                   1},
    // Version 4 added psk_credentials: there and empty after the upgrade, devices kept.
    VersionFixture{"INSERT INTO devices (id, endpoint, created_at) VALUES (1, 'dev', 0);",
                   "SELECT (SELECT count(*) FROM devices) * 10 + "
                   "(SELECT count(*) FROM psk_credentials)",
                   10},
    // Version 5 added the bridge's upstream_registrations, _exchanges and _observations (a
    // database at 4 passed the empty 3 and has none of them): the device, its request and its
    // observation are there to hang them on.
    VersionFixture{"INSERT INTO devices (id, endpoint, created_at) VALUES (1, 'dev', 0);"
                   "INSERT INTO requests (id, device_id, seq, operation, path, created_at) "
                   "  VALUES (7, 1, 1, 'observe', '/3/0/9', 0);"
                   "INSERT INTO observations (id, device_id, path, token, request_id, created_at) "
                   "  VALUES (3, 1, '/3/0/9', x'0102', 7, 0);"
                   "INSERT INTO psk_credentials VALUES (x'01', x'02', 'dev', 0, 0);",
                   "SELECT (SELECT count(*) FROM observations WHERE request_id = 7) + "
                   "  (SELECT count(*) FROM psk_credentials) * 10 + "
                   "  (SELECT count(*) FROM upstream_registrations) + "
                   "  (SELECT count(*) FROM upstream_exchanges) + (SELECT count(*) FROM "
                   "upstream_observations)",
                   11},
    // Version 6 added upstream_sends; the bridge's tables and a stored Send are kept.
    VersionFixture{"INSERT INTO devices (id, endpoint, created_at) VALUES (1, 'dev', 0);"
                   "INSERT INTO upstream_registrations VALUES ('coap://up', 1, 'gw-dev', 'rd/1', "
                   "  60, '1.1', 0, '</3/0>', 0);"
                   "INSERT INTO notifications (device_id, kind, received_at, content_format, "
                   "  payload) VALUES (1, 'send', 0, 110, '[]');",
                   "SELECT (SELECT count(*) FROM upstream_registrations) * 10 + "
                   "  (SELECT count(*) FROM notifications WHERE kind = 'send') + "
                   "  (SELECT count(*) FROM upstream_sends) * 100",
                   11},
    // Version 7 added upstream_psk_credentials: there and empty after the upgrade; the
    // devices' own PSKs and the upstream registration are kept.
    VersionFixture{"INSERT INTO devices (id, endpoint, created_at) VALUES (1, 'dev', 0);"
                   "INSERT INTO psk_credentials VALUES (x'01', x'02', 'dev', 0, 0);"
                   "INSERT INTO upstream_registrations VALUES ('coap://h', 1, 'gw-dev', 'rd/1', "
                   "  60, '1.1', 0, '</3/0>', 0);",
                   "SELECT (SELECT count(*) FROM psk_credentials) * 100 + "
                   "  (SELECT count(*) FROM upstream_registrations) * 10 + "
                   "  (SELECT count(*) FROM upstream_psk_credentials)",
                   110},
};

TEST(DatabaseTest, FixturesCoverEveryEarlierVersion) {
  EXPECT_EQ(static_cast<int>(kFixtures.size()), latestSchemaVersion())
      << "add a VersionFixture for the new schema version";
}

TEST(DatabaseTest, MigratesFromEveryEarlierVersionKeepingDataAndBackingUp) {
  for (int k = 0; k < latestSchemaVersion() && k < static_cast<int>(kFixtures.size()); ++k) {
    SCOPED_TRACE("from version " + std::to_string(k));
    TempDir dir;
    const std::string path = dir.file("lwgate.db");
    {
      Database old = openOk(path, {.targetVersion = k});
      EXPECT_EQ(old.schemaVersion(), k);
      execOk(old.connection(), kFixtures[k].fill);
    }
    Database db = openOk(path);
    EXPECT_EQ(db.migration().fromVersion, k);
    EXPECT_EQ(db.schemaVersion(), latestSchemaVersion());
    EXPECT_EQ(queryInt(db.connection(), kFixtures[k].check), kFixtures[k].expected);
    EXPECT_TRUE(db.checkIntegrity().ok());

    const std::string backup = backupPathFor(path, k);
    if (k == 0) {
      EXPECT_EQ(db.migration().backupPath, "");
      EXPECT_FALSE(testing::exists(backup));
      continue;
    }
    EXPECT_EQ(db.migration().backupPath, backup);
    Connection copy = rawOpen(backup, OpenMode::kReadOnly);
    EXPECT_EQ(queryInt(copy, "PRAGMA user_version"), k);
    EXPECT_TRUE(checkIntegrity(copy).ok());
  }
}

// The shipped list has one migration today, so backups and multi-step upgrades are exercised
// with test migrations on top of it, the way the next real ones will look.
constexpr std::string_view kAddColumn =
    "ALTER TABLE devices ADD COLUMN label TEXT;"
    "UPDATE devices SET label = 'was ' || endpoint;";
constexpr std::string_view kNewTable =
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO settings VALUES ('migrated', 'yes');";

std::vector<Migration> withTestMigrations(std::vector<Migration> extra) {
  std::vector<Migration> list(migrations().begin(), migrations().end());
  list.insert(list.end(), extra.begin(), extra.end());
  return list;
}

class UpgradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Database db = openOk(path, {}, base);
    auto store = SqliteRegistrationStore::create(db.connection());
    ASSERT_TRUE(store.ok());
    core::Registration reg;
    reg.location = "loc1";
    reg.endpoint = "urn:dev:1";
    reg.registeredAt = reg.updatedAt = reg.lastSeen = core::fromUnixMillis(1'700'000'000'000);
    ASSERT_TRUE((*store)->insertRegistration(reg).ok());
    execOk(db.connection(), "UPDATE devices SET awake_window_ms = 30000");
  }

  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  const int v1 = latestSchemaVersion();
  const std::vector<Migration> base = withTestMigrations({});
};

TEST_F(UpgradeTest, BacksUpThenAppliesEveryMigrationInOrder) {
  const auto list =
      withTestMigrations({{v1 + 1, "label", kAddColumn}, {v1 + 2, "settings", kNewTable}});
  Database db = openOk(path, {}, list);
  EXPECT_EQ(db.migration().fromVersion, v1);
  EXPECT_EQ(db.migration().toVersion, v1 + 2);
  EXPECT_EQ(db.migration().backupPath, backupPathFor(path, v1));
  EXPECT_EQ(db.migration().backupPath, path + ".schema-v" + std::to_string(v1) + ".bak");
  Connection& c = db.connection();
  EXPECT_EQ(queryInt(c, "PRAGMA user_version"), v1 + 2);
  EXPECT_EQ(queryText(c, "SELECT label FROM devices"), "was urn:dev:1");
  EXPECT_EQ(queryText(c, "SELECT value FROM settings WHERE key = 'migrated'"), "yes");
  EXPECT_EQ(queryInt(c, "SELECT awake_window_ms FROM devices"), 30000);
  EXPECT_EQ(queryInt(c, "PRAGMA foreign_keys"), 1);
  EXPECT_TRUE(db.checkIntegrity().ok());

  // The backup is the database as it was: old version, old data, private.
  EXPECT_EQ(testing::fileMode(db.migration().backupPath), 0600u);
  Connection copy = rawOpen(db.migration().backupPath, OpenMode::kReadOnly);
  EXPECT_EQ(queryInt(copy, "PRAGMA user_version"), v1);
  EXPECT_EQ(queryInt(copy, "SELECT count(*) FROM registrations"), 1);
  EXPECT_EQ(queryInt(copy,
                     "SELECT count(*) FROM pragma_table_info('devices') WHERE name = "
                     "'label'"),
            0);
  EXPECT_TRUE(checkIntegrity(copy).ok());
}

TEST_F(UpgradeTest, StepwiseUpgradeKeepsABackupOfEachVersion) {
  const auto list =
      withTestMigrations({{v1 + 1, "label", kAddColumn}, {v1 + 2, "settings", kNewTable}});
  { openOk(path, {.targetVersion = v1 + 1}, list); }
  Database db = openOk(path, {}, list);
  EXPECT_EQ(db.migration().fromVersion, v1 + 1);
  EXPECT_TRUE(testing::exists(backupPathFor(path, v1)));
  Connection copy = rawOpen(backupPathFor(path, v1 + 1), OpenMode::kReadOnly);
  EXPECT_EQ(queryInt(copy, "PRAGMA user_version"), v1 + 1);
  EXPECT_EQ(queryText(copy, "SELECT label FROM devices"), "was urn:dev:1");
}

TEST_F(UpgradeTest, RevertingRestoresTheSettingsOfTheOldVersion) {
  // spec/cr-maintenance-upgrade-holdoff.txt MaU-002/003: after an upgrade, the operator goes back
  // to the old lwgated and restores the backup; the old build opens it with everything in it.
  const auto list = withTestMigrations({{v1 + 1, "label", kAddColumn}});
  std::string backup;
  {
    Database db = openOk(path, {}, list);
    backup = db.migration().backupPath;
  }
  auto refused = openDatabase(path, {}, base);  // the old build refuses the upgraded file ...
  ASSERT_FALSE(refused.ok());
  std::filesystem::copy_file(backup, path, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  Database old = openOk(path, {}, base);  // ... and opens the restored backup.
  EXPECT_EQ(old.schemaVersion(), v1);
  EXPECT_EQ(queryInt(old.connection(), "SELECT awake_window_ms FROM devices"), 30000);
  auto store = SqliteRegistrationStore::create(old.connection());
  ASSERT_TRUE(store.ok());
  auto loaded = (*store)->loadRegistrations();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].endpoint, "urn:dev:1");
}

TEST_F(UpgradeTest, FailedMigrationRollsBackAndLeavesTheOldVersion) {
  // The first statement of the broken migration works, the second fails: neither may remain.
  const auto list = withTestMigrations(
      {{v1 + 1, "label", kAddColumn},
       {v1 + 2, "broken", "CREATE TABLE half (x); INSERT INTO no_such_table VALUES (1);"}});
  auto db = openDatabase(path, {}, list);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kStorage);
  EXPECT_THAT(db.error().message,
              HasSubstr("to schema version " + std::to_string(v1 + 2) +
                        " (broken) failed, it stays at version " + std::to_string(v1 + 1)));
  EXPECT_THAT(db.error().message, HasSubstr("no such table: no_such_table"));

  Connection c = rawOpen(path, OpenMode::kReadOnly);
  EXPECT_EQ(queryInt(c, "PRAGMA user_version"), v1 + 1);
  EXPECT_EQ(queryInt(c, "SELECT count(*) FROM sqlite_master WHERE name = 'half'"), 0);
  EXPECT_EQ(queryText(c, "SELECT label FROM devices"), "was urn:dev:1");
  EXPECT_TRUE(checkIntegrity(c).ok());
  EXPECT_TRUE(testing::exists(backupPathFor(path, v1)));
}

TEST_F(UpgradeTest, MigrationLeavingForeignKeyViolationsIsRolledBack) {
  const auto list =
      withTestMigrations({{v1 + 1, "orphan",
                           "INSERT INTO registrations (location, device_id, lifetime, "
                           "lifetime_sync_pending, version, binding_text, binding_transports, "
                           "queue_mode, object_links, transport, address, port, registered_at, "
                           "updated_at, last_seen) VALUES ('x', 999, 1, 0, '1.1', 'U', 'U', 0, '', "
                           "'udp', '::1', 1, 0, 0, 0)"}});
  auto db = openDatabase(path, {}, list);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.error().message, HasSubstr("leaves 1 foreign key violations"));
  Connection c = rawOpen(path, OpenMode::kReadOnly);
  EXPECT_EQ(queryInt(c, "PRAGMA user_version"), v1);
  EXPECT_EQ(queryInt(c, "SELECT count(*) FROM registrations"), 1);
}

TEST_F(UpgradeTest, NoBackupWhenDisabled) {
  const auto list = withTestMigrations({{v1 + 1, "label", kAddColumn}});
  Database db = openOk(path, {.backupBeforeMigration = false}, list);
  EXPECT_EQ(db.schemaVersion(), v1 + 1);
  EXPECT_EQ(db.migration().backupPath, "");
  EXPECT_FALSE(testing::exists(backupPathFor(path, v1)));
}

TEST_F(UpgradeTest, BackupFailureStopsTheMigration) {
  // A directory where the backup file should go makes the rename fail.
  const auto list = withTestMigrations({{v1 + 1, "label", kAddColumn}});
  std::filesystem::create_directory(backupPathFor(path, v1));
  std::filesystem::create_directory(backupPathFor(path, v1) + "/keep");
  auto db = openDatabase(path, {}, list);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.error().message, HasSubstr("the backup before the migration failed"));
  Connection c = rawOpen(path, OpenMode::kReadOnly);
  EXPECT_EQ(queryInt(c, "PRAGMA user_version"), v1);
}

TEST(DatabaseTest, RejectsAMisnumberedMigrationList) {
  TempDir dir;
  const std::array list = {Migration{1, "one", "CREATE TABLE a (x)"},
                           Migration{3, "three", "CREATE TABLE b (x)"}};
  auto db = openDatabase(dir.file("lwgate.db"), {}, list);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kInternal);
}

// ---- Refusing files that are not ours
// ------------------------------------------------------------

TEST(DatabaseTest, RefusesANewerSchemaAndLeavesTheFileByteForByte) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  {
    Database db = openOk(path);
    auto store = SqliteRegistrationStore::create(db.connection());
    ASSERT_TRUE(store.ok());
    core::Registration reg;
    reg.location = "a";
    reg.endpoint = "ep";
    ASSERT_TRUE((*store)->insertRegistration(reg).ok());
    execOk(db.connection(), "PRAGMA user_version = 8");
    // Leave the last change in the WAL, as a newer lwgated killed with -9 would.
    execOk(db.connection(), "INSERT INTO devices (endpoint, created_at) VALUES ('in wal', 1)");
    sqlite3_db_config(db.connection().handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  }
  const std::string before = testing::readFile(path);
  const std::string walBefore = testing::readFile(path + "-wal");
  ASSERT_FALSE(walBefore.empty());

  auto db = openDatabase(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kStorage);
  EXPECT_EQ(db.error().message,
            path + ": database schema version 8 is newer than this lwgated supports (" +
                std::to_string(latestSchemaVersion()) +
                "); refusing to open it — restore the backup taken before the upgrade or run a "
                "newer lwgated");
  EXPECT_EQ(testing::readFile(path), before);
  EXPECT_EQ(testing::readFile(path + "-wal"), walBefore);
  EXPECT_FALSE(testing::exists(backupPathFor(path, 7)));
}

TEST(DatabaseTest, RefusesAVersionAboveTheRequestedTarget) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  { openOk(path); }
  auto db = openDatabase(path, {.targetVersion = 0});
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.error().message, HasSubstr("newer than the requested 0"));
}

TEST(DatabaseTest, RefusesAFileThatIsNotSqlite) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  const std::string content = "[server]\nlisten = [\"0.0.0.0:5683\"]\n";  // a config, say
  testing::writeFile(path, content);
  auto db = openDatabase(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kStorage);
  EXPECT_EQ(db.error().message,
            path + " is not an SQLite database; refusing to open it (check the database path)");
  EXPECT_EQ(testing::readFile(path), content);
  EXPECT_FALSE(testing::exists(path + "-wal"));
  EXPECT_FALSE(testing::exists(path + "-shm"));
}

TEST(DatabaseTest, RefusesATruncatedSqliteFile) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  testing::writeFile(path, std::string("SQLite format 3\0", 16) + "garbage");
  auto db = openDatabase(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kStorage);
  EXPECT_THAT(db.error().message, HasSubstr("cannot read database " + path));
}

TEST(DatabaseTest, RefusesAnotherApplicationsDatabase) {
  TempDir dir;
  struct Case {
    const char* name;
    const char* setup;
  };
  for (const Case& tc :
       {Case{"tables, no version", "CREATE TABLE contacts (name TEXT)"},
        Case{"versioned, no application id", "CREATE TABLE devices (x); PRAGMA user_version = 1"},
        Case{"other application id",
             "PRAGMA application_id = 42; PRAGMA user_version = 1; "
             "CREATE TABLE t (x)"}}) {
    SCOPED_TRACE(tc.name);
    const std::string path = dir.file(std::string(tc.name) + ".db");
    {
      Connection c = rawOpen(path);
      execOk(c, tc.setup);
    }
    const std::string before = testing::readFile(path);
    auto db = openDatabase(path);
    ASSERT_FALSE(db.ok());
    EXPECT_THAT(db.error().message, HasSubstr("is an SQLite database of another application"));
    EXPECT_THAT(db.error().message, HasSubstr("refusing to modify it"));
    EXPECT_EQ(testing::readFile(path), before);
  }
}

TEST(DatabaseTest, MissingDirectoryIsAClearError) {
  TempDir dir;
  auto db = openDatabase(dir.file("missing/lwgate.db"));
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kStorage);
  EXPECT_THAT(db.error().message, HasSubstr("its directory must exist"));
}

TEST(DatabaseTest, DirectoryIsNotADatabase) {
  TempDir dir;
  auto db = openDatabase(dir.path());
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.error().message, HasSubstr("is not a regular file"));
}

TEST(DatabaseTest, ExistingFileIsMadePrivate) {
  // The database holds DTLS keys: a file group or others may read is made 0600 at open, with
  // its -wal and -shm, and the report says what the mode was so the daemon can log it.
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  { openOk(path); }
  for (const std::string& f : {path, path + "-wal", path + "-shm"}) {
    if (testing::exists(f)) ::chmod(f.c_str(), 0644);
  }
  ::chmod(path.c_str(), 0640);
  {
    Database db = openOk(path);
    EXPECT_EQ(db.migration().fixedMode, 0640u);
  }
  for (const std::string& f : {path, path + "-wal", path + "-shm"}) {
    if (testing::exists(f)) {
      EXPECT_EQ(testing::fileMode(f), 0600u) << f;
    }
  }
  // Already private: nothing to report.
  Database again = openOk(path);
  EXPECT_EQ(again.migration().fixedMode, 0u);
}

TEST(DatabaseTest, AnotherApplicationsFileKeepsItsMode) {
  // Refused files are not touched at all, their mode included.
  TempDir dir;
  const std::string path = dir.file("other.db");
  {
    Connection c = rawOpen(path);
    execOk(c, "CREATE TABLE contacts (name TEXT)");
  }
  ::chmod(path.c_str(), 0644);
  EXPECT_FALSE(openDatabase(path).ok());
  EXPECT_EQ(testing::fileMode(path), 0644u);
}

}  // namespace
}  // namespace lwgate::db
