// Upgrades, backup and restore with the real lwgated (issue 7, "Upgrades and rollback";
// spec/cr-maintenance-upgrade-holdoff.txt LightweightM2M-MaU-001..003 at gateway level):
//  - Backup over D-Bus while devices register: the copy is consistent and has the rows;
//  - lwgated --restore: refuses while lwgated runs, refuses files that are not usable lwgate
//    databases, changes nothing then, and otherwise puts the file in place;
//  - a database of schema version 1, full of state, is upgraded by the current lwgated without
//    losing a row, and the pre-migration backup restores into the very same database.
#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include "db/database.h"
#include "tests/e2e/harness.h"

namespace lwgate::e2e {
namespace {

constexpr const char* kInterface = "org.lwgate.Gateway1";

std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

unsigned fileMode(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

void exec(const std::string& dbPath, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dbPath.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message << "\n" << sql;
}

RunResult restore(const std::string& file, const std::string& db) {
  return run({LWGATED_PATH, "--restore", file, "--db", db});
}

// sqlite3's .dump of a database: its whole content as SQL text.
std::string dump(const std::string& db) {
  auto r = run({"sqlite3", db, ".dump"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  return r.out;
}

// ---- Backup over D-Bus ------------------------------------------------------------------------

class BackupE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(gw.start(bus.lwgatedArgs())) << gw.log();
    ASSERT_TRUE(gw.waitForLog("LWG4001")) << gw.log();
    connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
    proxy = sdbus::createProxy(*connection, "org.lwgate.Gateway1", "/org/lwgate/Gateway1");
  }

  // "" when the call succeeded, else the D-Bus error name and message.
  std::string backup(const std::string& path) {
    try {
      proxy->callMethod("Backup").onInterface(kInterface).withArguments(path);
    } catch (const sdbus::Error& e) {
      return e.getName() + ": " + e.getMessage();
    }
    return "";
  }

  TempDir dir;
  PrivateBus bus{dir.path()};
  Lwgated gw{dir.path()};
  std::unique_ptr<sdbus::IConnection> connection;
  std::unique_ptr<sdbus::IProxy> proxy;
};

TEST_F(BackupE2E, ConsistentCopyWhileDevicesRegister) {
  // Registrations keep arriving (one coap-client process after another) during the backups.
  std::atomic<bool> stop{false};
  std::atomic<int> registered{0};
  std::thread devices([&] {
    for (int k = 0; !stop && k < 1000; ++k) {
      auto reply = coapClient("post", gw.url() + "/rd?ep=dev-" + std::to_string(k) + "&lt=3600",
                              "</1/0>,</3/0>");
      if (reply.code == "2.01") ++registered;
    }
  });
  ASSERT_TRUE(waitUntil([&] { return registered >= 3; }, 20s)) << gw.log();
  std::vector<std::pair<std::string, int>> copies;
  for (int k = 0; k < 3; ++k) {
    const int before = registered;
    const std::string path = dir.file("backup-" + std::to_string(k) + ".db");
    EXPECT_EQ(backup(path), "");
    copies.emplace_back(path, before);
    waitUntil([&] { return registered >= before + 2; }, 10s);
  }
  stop = true;
  devices.join();

  for (const auto& [path, before] : copies) {
    SCOPED_TRACE(path);
    EXPECT_EQ(fileMode(path), 0600u);
    EXPECT_EQ(queryText(path, "PRAGMA integrity_check"), "ok");
    EXPECT_EQ(queryInt(path, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    EXPECT_EQ(queryText(path, "PRAGMA journal_mode"), "delete");
    EXPECT_EQ(queryInt(path, "PRAGMA user_version"), db::latestSchemaVersion());
    EXPECT_EQ(queryInt(path, "PRAGMA application_id"), db::kApplicationId);
    // Every registration answered 2.01 before the call is in the copy, each with its device.
    const auto rows = queryInt(path, "SELECT count(*) FROM registrations");
    EXPECT_GE(rows, before);
    EXPECT_EQ(queryInt(path, "SELECT count(*) FROM devices"), rows);
    EXPECT_EQ(queryInt(path,
                       "SELECT count(*) FROM registrations r JOIN devices d ON "
                       "d.id = r.device_id WHERE d.endpoint LIKE 'dev-%'"),
              rows);
  }
  EXPECT_TRUE(gw.waitForLog("LWG1011 database backed up to " + copies[0].first)) << gw.log();
  // The daemon went on: the live database has every device.
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM registrations"), registered.load());
}

TEST_F(BackupE2E, RefusesBadPaths) {
  EXPECT_EQ(backup("relative.db").substr(0, 43), "org.lwgate.Gateway1.Error.InvalidArgs: back");
  writeFile(dir.file("there.db"), "mine");
  EXPECT_EQ(backup(dir.file("there.db")), "org.lwgate.Gateway1.Error.InvalidArgs: " +
                                              dir.file("there.db") + " exists; not replacing it");
  EXPECT_EQ(readFile(dir.file("there.db")), "mine");
  const std::string failed = backup(dir.file("missing/copy.db"));
  EXPECT_EQ(failed.substr(0, 33), "org.lwgate.Gateway1.Error.Failed:") << failed;
  EXPECT_NE(failed.find("No such file or directory"), std::string::npos) << failed;
  EXPECT_TRUE(gw.waitForLog("LWG1012")) << gw.log();
  // Still serving.
  EXPECT_EQ(backup(dir.file("fine.db")), "");
}

// ---- lwgated --restore ------------------------------------------------------------------------

TEST(RestoreE2E, RefusesWhileLwgatedRunsOrTheFileIsUnusableAndChangesNothing) {
  TempDir dir;
  Lwgated gw{dir.path()};
  ASSERT_TRUE(gw.start()) << gw.log();
  ASSERT_EQ(coapClient("post", gw.url() + "/rd?ep=kept&lt=3600", "</1/0>").code, "2.01");
  // A backup to restore: a copy of this database with another device.
  ASSERT_EQ(run({"sqlite3", gw.database(), ".backup " + dir.file("good.db")}).exitCode, 0);
  exec(dir.file("good.db"), "INSERT INTO devices (endpoint, created_at) VALUES ('restored', 0)");

  // The lock that keeps --restore off the database keeps a second lwgated off it too.
  auto second =
      run({LWGATED_PATH, "--db", gw.database(), "--listen", "127.0.0.1:0", "--bus", "none"});
  EXPECT_EQ(second.exitCode, 1) << second.err;
  EXPECT_NE(second.err.find("LWG1091 cannot start: database " + gw.database() +
                            " is in use by another lwgated"),
            std::string::npos)
      << second.err;

  auto running = restore(dir.file("good.db"), gw.database());
  EXPECT_EQ(running.exitCode, 2) << running.err;
  EXPECT_NE(running.err.find("LWG1022"), std::string::npos) << running.err;
  EXPECT_NE(running.err.find("in use by another lwgated"), std::string::npos) << running.err;
  EXPECT_EQ(gw.stop(), 0);

  // Files that are not usable lwgate databases.
  writeFile(dir.file("text.db"), "SQLite format 2, or rather not at all");
  ASSERT_EQ(
      run({"sqlite3", dir.file("other.db"), "CREATE TABLE t (x); PRAGMA user_version=1"}).exitCode,
      0);
  ASSERT_EQ(run({"sqlite3", dir.file("good.db"), ".backup " + dir.file("newer.db")}).exitCode, 0);
  exec(dir.file("newer.db"), "PRAGMA user_version = 99");
  // A page of the devices table overwritten: integrity_check fails.
  ASSERT_EQ(run({"sqlite3", dir.file("good.db"), ".backup " + dir.file("corrupt.db")}).exitCode, 0);
  exec(dir.file("corrupt.db"), "PRAGMA journal_mode=DELETE");
  {
    const auto page = queryInt(dir.file("corrupt.db"), "PRAGMA page_size");
    const auto root = queryInt(dir.file("corrupt.db"),
                               "SELECT rootpage FROM sqlite_master WHERE name = "
                               "'sqlite_autoindex_devices_1'");
    std::string bytes = readFile(dir.file("corrupt.db"));
    ASSERT_GT(static_cast<std::int64_t>(bytes.size()), root * page);
    std::fill_n(bytes.begin() + (root - 1) * page + 8, 64, '\x7f');
    writeFile(dir.file("corrupt.db"), bytes);
  }
  const std::string before = dump(gw.database());
  const auto files = listing(dir.path());
  for (const auto& [file, why] : std::vector<std::pair<std::string, std::string>>{
           {"text.db", "is not an SQLite database"},
           {"other.db", "is not an lwgate database"},
           {"newer.db", "has schema version 99, newer than this lwgated supports"},
           {"corrupt.db", "failed the integrity check"},
           {"missing.db", "No such file or directory"}}) {
    SCOPED_TRACE(file);
    auto r = restore(dir.file(file), gw.database());
    EXPECT_EQ(r.exitCode, 1) << r.err;
    EXPECT_NE(r.err.find("LWG1021"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nothing was changed"), std::string::npos) << r.err;
    EXPECT_EQ(listing(dir.path()), files);
  }
  EXPECT_EQ(dump(gw.database()), before);

  // A good one goes in; the previous database is kept and still opens.
  auto ok = restore(dir.file("good.db"), gw.database());
  ASSERT_EQ(ok.exitCode, 0) << ok.err;
  EXPECT_NE(ok.err.find("LWG1020 restored " + dir.file("good.db")), std::string::npos) << ok.err;
  EXPECT_EQ(fileMode(gw.database()), 0600u);
  std::string kept;
  for (const auto& name : listing(dir.path())) {
    if (name.find("lwgate.db.before-restore-") == 0) kept = dir.file(name);
  }
  ASSERT_FALSE(kept.empty()) << ok.err;
  EXPECT_NE(ok.err.find("the previous database is kept as " + kept), std::string::npos);
  EXPECT_EQ(dump(kept), before);
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM devices WHERE endpoint = 'restored'"), 1);
  ASSERT_TRUE(gw.start()) << gw.log();
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM devices"), 2);
  EXPECT_EQ(gw.stop(), 0);
}

// ---- Upgrade from schema version 1 --------------------------------------------------------------

// State of every kind a version-1 gateway keeps. Times are Unix ms around now, lifetimes long and
// deadlines far ahead, so a start of lwgated neither expires nor fails any of it; the devices are
// in queue mode and asleep after the restart, so nothing is sent to them.
std::string fillVersion1(std::int64_t nowMs) {
  const std::string now = std::to_string(nowMs);
  const std::string later = std::to_string(nowMs + 30LL * 86400 * 1000);
  return "INSERT INTO devices (id, endpoint, created_at, awake_window_ms, sms_number, "
         "server_instance) VALUES "
         "(1, 'meter-1', " +
         now +
         ", NULL, NULL, NULL), "
         "(2, 'meter-2', " +
         now +
         ", 120000, '+4915112345678', 0), "
         "(3, 'gone', " +
         now +
         ", NULL, NULL, NULL);"
         "INSERT INTO registrations VALUES "
         "(1, 'loc1aaaaaa', 86400, 0, '1.1', 'UQ', 'U', 1, NULL, '</1/0>,</3/0>,</3303/0>', "
         "'udp', '127.0.0.1', 40001, " +
         now + ", " + now + ", " + now +
         "), "
         "(2, 'loc2bbbbbb', 86400, 0, '1.0', 'UQ', 'U', 1, '+4915112345678', "
         "'</lwm2m>;rt=\"oma.lwm2m\",</lwm2m/1/0>,</lwm2m/3/0>', 'udp', '127.0.0.1', 40002, " +
         now + ", " + now + ", " + now +
         ");"
         "INSERT INTO requests (id, device_id, seq, operation, path, payload, content_format, "
         "accept_format, urgent, state, idempotency_key, created_at, deadline, attempts, "
         "coap_mid, coap_token, sent_at, response_code, response_payload, response_format, "
         "reason, finished_at) VALUES "
         "(1, 1, 1, 'observe', '/3303/0/5700', NULL, NULL, 11542, 0, 'done', NULL, " +
         now + ", " + later + ", 1, 100, x'a1a2a3a4', " + now + ", 69, x'c8', 11542, NULL, " + now +
         "), "
         "(2, 1, 2, 'read', '/3/0', NULL, NULL, NULL, 0, 'in_flight', 'key-2', " +
         now + ", " + later + ", 1, 101, x'b1b2', " + now +
         ", NULL, NULL, NULL, NULL, NULL), "
         "(3, 1, 3, 'write', '/1/0/1', x'c1', 11542, NULL, 1, 'queued', NULL, " +
         now + ", " + later +
         ", 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
         "(4, 2, 4, 'execute', '/3/0/4', NULL, NULL, NULL, 0, 'queued', 'reboot-1', " +
         now +
         ", NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
         "(5, 2, 5, 'read', '/3/0/9', NULL, NULL, NULL, 0, 'failed', NULL, " +
         now + ", " + later + ", 5, 102, x'c1c2', " + now +
         ", NULL, NULL, NULL, 'no answer after 5 attempts', " + now +
         "), "
         "(6, 3, 6, 'read', '/3/0/0', NULL, NULL, NULL, 0, 'cancelled', NULL, " +
         now + ", " + later + ", 0, NULL, NULL, NULL, NULL, NULL, NULL, 'cancelled over D-Bus', " +
         now +
         ");"
         "INSERT INTO observations VALUES "
         "(1, 1, '/3303/0/5700', x'a1a2a3a4', 'pmin=10&pmax=60', 11542, 1, " +
         now + ", 7, " + now +
         ");"
         "INSERT INTO notifications VALUES "
         "(1, 1, 'notify', 1, '/3303/0/5700', x'a1a2a3a4', 6, " +
         now +
         ", 11542, x'c8'), "
         "(2, 1, 'notify', 1, '/3303/0/5700', x'a1a2a3a4', 7, " +
         now +
         ", 11542, x'c9'), "
         "(3, 2, 'send', NULL, NULL, NULL, NULL, " +
         now +
         ", 112, x'5b7b7d5d');"
         "INSERT INTO sms_log VALUES "
         "(1, 'out', 2, '+4915112345678', 'trigger', 4, 1, 17, 'delivered', NULL, NULL, " +
         now + ", " + now +
         "), "
         "(2, 'in', NULL, '+4915199999999', 'other', NULL, 1, NULL, 'received', NULL, x'00', " +
         now + ", " + now + ");";
}

const std::vector<std::string> kVersion1Tables = {"devices",        "registrations", "requests",
                                                  "observations",   "notifications", "sms_log",
                                                  "sqlite_sequence"};

// Row by row: every row of `table` in the database at `before` (with its columns there) is in
// `after` with the same values, and nothing else is.
void expectSameRows(const std::string& before, const std::string& after, const std::string& table) {
  SCOPED_TRACE(table);
  const std::string columns =
      queryText(before, "SELECT group_concat(name, ', ') FROM pragma_table_info('" + table + "')")
          .value_or("");
  ASSERT_FALSE(columns.empty());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(after.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto count = [&](const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db) << "\n"
        << sql;
    std::int64_t n = -1;
    if (st && sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
  };
  ASSERT_EQ(count("ATTACH '" + before + "' AS b"), -1);  // no rows, no error
  const auto rows = count("SELECT count(*) FROM b." + table);
  EXPECT_GT(rows, 0);
  EXPECT_EQ(count("SELECT count(*) FROM main." + table), rows);
  EXPECT_EQ(count("SELECT count(*) FROM (SELECT " + columns + " FROM b." + table +
                  " EXCEPT SELECT " + columns + " FROM main." + table + ")"),
            0);
  EXPECT_EQ(count("SELECT count(*) FROM (SELECT " + columns + " FROM main." + table +
                  " EXCEPT SELECT " + columns + " FROM b." + table + ")"),
            0);
  sqlite3_close(db);
}

TEST(UpgradeE2E, SchemaVersion1IsUpgradedWithoutLossAndItsBackupRestoresIdentically) {
  TempDir dir;
  Lwgated gw{dir.path()};
  const std::string database = gw.database();
  {
    // Version 1 made by running only migration 1, as the first release did.
    auto v1 = db::openDatabase(database, {.targetVersion = 1});
    ASSERT_TRUE(v1.ok()) << v1.error().message;
    ASSERT_EQ(v1->schemaVersion(), 1);
  }
  const auto nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  exec(database, fillVersion1(nowMs));
  ASSERT_FALSE(std::filesystem::exists(database + "-wal"));
  const std::string pre = dir.file("pre-upgrade.db");
  std::filesystem::copy_file(database, pre);
  const std::string preDump = dump(pre);

  // The current lwgated opens it: migrated, after a backup.
  ASSERT_TRUE(gw.start()) << gw.log();
  EXPECT_NE(gw.log().find("LWG1004 database schema migrated from version 1 to " +
                          std::to_string(db::latestSchemaVersion()) + " (backup: " + database +
                          ".schema-v1.bak)"),
            std::string::npos)
      << gw.log();
  EXPECT_NE(gw.log().find("LWG1005 restored 2 registrations from the database (0 expired"),
            std::string::npos)
      << gw.log();
  EXPECT_NE(gw.log().find("LWG3100"), std::string::npos) << gw.log();
  EXPECT_EQ(gw.stop(), 0);
  EXPECT_EQ(queryInt(database, "PRAGMA user_version"), db::latestSchemaVersion());
  EXPECT_EQ(queryText(database, "PRAGMA integrity_check"), "ok");
  for (const auto& table : kVersion1Tables) expectSameRows(pre, database, table);
  // Version 5's bridge tables exist and start empty (nothing is bridged without [[upstream]]).
  for (const char* table :
       {"upstream_registrations", "upstream_exchanges", "upstream_observations"}) {
    EXPECT_EQ(queryInt(database, std::string("SELECT count(*) FROM ") + table), 0) << table;
  }

  // The backup taken before migrating is the version-1 database as it was, and restores into it.
  const std::string bak = database + ".schema-v1.bak";
  ASSERT_TRUE(std::filesystem::exists(bak));
  EXPECT_EQ(fileMode(bak), 0600u);
  auto restored = restore(bak, database);
  ASSERT_EQ(restored.exitCode, 0) << restored.err;
  EXPECT_NE(restored.err.find("the next start migrates it to version " +
                              std::to_string(db::latestSchemaVersion())),
            std::string::npos)
      << restored.err;
  EXPECT_EQ(dump(database), preDump);
  EXPECT_EQ(queryInt(database, "PRAGMA user_version"), 1);
  EXPECT_EQ(queryInt(database, "PRAGMA application_id"), db::kApplicationId);
  for (const auto& table : kVersion1Tables) expectSameRows(pre, database, table);

  // And the daemon starts on it again, migrating it forward once more.
  ASSERT_TRUE(gw.start()) << gw.log();
  EXPECT_NE(gw.log().find("LWG1004 database schema migrated from version 1"), std::string::npos)
      << gw.log();
  EXPECT_NE(gw.log().find("LWG1005 restored 2 registrations"), std::string::npos) << gw.log();
  EXPECT_EQ(gw.stop(), 0);
  for (const auto& table : kVersion1Tables) expectSameRows(pre, database, table);
}

}  // namespace
}  // namespace lwgate::e2e
