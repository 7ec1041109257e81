// Online backups, the database lock, the in-use check and restoring a backup (lwgated --restore).
#include "db/maintenance.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "db/database.h"
#include "tests/unit/db/test_support.h"

namespace lwgate::db {
namespace {

using testing::execOk;
using ::testing::HasSubstr;
using testing::queryInt;
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

// Every file in dir, so a test can say that nothing was left behind.
std::vector<std::string> listing(const TempDir& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void addDevices(Connection& c, int from, int count) {
  for (int k = from; k < from + count; ++k) {
    execOk(c,
           "INSERT INTO devices (endpoint, created_at) VALUES ('dev" + std::to_string(k) + "', 0)");
  }
}

// ---- Online backup ----------------------------------------------------------------------------

TEST(BackupTest, CopiesTheLiveDatabaseIncludingItsWal) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  Database db = openOk(path);
  sqlite3_wal_autocheckpoint(db.connection().handle(), 0);  // keep the rows in the WAL
  addDevices(db.connection(), 0, 50);

  const std::string copy = dir.file("copy.db");
  auto info = backupLiveDatabase(path, copy);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->schemaVersion, latestSchemaVersion());
  EXPECT_GT(info->pages, 0);
  EXPECT_EQ(testing::fileMode(copy), 0600u);
  Connection c = rawOpen(copy, OpenMode::kReadOnly);
  EXPECT_EQ(queryInt(c, "SELECT count(*) FROM devices"), 50);
  EXPECT_EQ(testing::queryText(c, "PRAGMA journal_mode"), "delete");
  EXPECT_EQ(queryInt(c, "PRAGMA application_id"), kApplicationId);
  EXPECT_TRUE(checkIntegrity(c).ok());
  EXPECT_THAT(listing(dir), ::testing::Contains("copy.db"));
  EXPECT_EQ(listing(dir).size(), 4u) << "lwgate.db, -wal, -shm and copy.db only";
}

TEST(BackupTest, IsOneSnapshotWhileTheWriterGoesOn) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  Database db = openOk(path);
  addDevices(db.connection(), 0, 2000);  // enough pages for many one-page slices
  std::atomic<bool> done{false};
  std::atomic<int> commits{0};
  std::thread writer([&] {
    // Each transaction adds a device and one request for it: a consistent copy has as many
    // requests as devices beyond the first 2000.
    auto c = Connection::open(path, OpenMode::kReadWrite);
    ASSERT_TRUE(c.ok());
    sqlite3_busy_timeout(c->handle(), 5000);
    for (int k = 0; !done; ++k) {
      auto r = c->exec("BEGIN IMMEDIATE; INSERT INTO devices (endpoint, created_at) VALUES ('w" +
                           std::to_string(k) +
                           "', 0); INSERT INTO requests (device_id, seq, operation, path, "
                           "created_at) VALUES (last_insert_rowid(), 1, 'read', '/3/0', 0); "
                           "COMMIT;",
                       "writer");
      ASSERT_TRUE(r.ok()) << r.error().message;
      ++commits;
    }
  });
  while (commits < 5) std::this_thread::yield();
  auto info = backupLiveDatabase(path, dir.file("copy.db"), nullptr, 1);
  done = true;
  writer.join();
  ASSERT_TRUE(info.ok()) << info.error().message;
  Connection c = rawOpen(dir.file("copy.db"), OpenMode::kReadOnly);
  EXPECT_TRUE(checkIntegrity(c).ok());
  const auto devices = queryInt(c, "SELECT count(*) FROM devices");
  EXPECT_GE(devices, 2005);
  EXPECT_EQ(queryInt(c, "SELECT count(*) FROM requests"), devices - 2000);
}

TEST(BackupTest, RefusesAnExistingFileAndLeavesNothingOnErrors) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  { Database db = openOk(path); }
  testing::writeFile(dir.file("there.db"), "mine");
  auto r = backupLiveDatabase(path, dir.file("there.db"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(testing::readFile(dir.file("there.db")), "mine");

  auto missing = backupLiveDatabase(path, dir.file("no/such/dir/copy.db"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kStorage);
  EXPECT_THAT(missing.error().message, HasSubstr("no/such/dir"));

  std::atomic<bool> stop{true};
  auto stopped = backupLiveDatabase(path, dir.file("copy.db"), &stop);
  ASSERT_FALSE(stopped.ok());
  EXPECT_THAT(stopped.error().message, HasSubstr("stopped"));
  // The source's -wal and -shm, which the live database has anyway.
  EXPECT_EQ(listing(dir),
            (std::vector<std::string>{"lwgate.db", "lwgate.db-shm", "lwgate.db-wal", "there.db"}));
}

TEST(BackupTest, JobReportsThroughItsEventFd) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  Database db = openOk(path);
  addDevices(db.connection(), 0, 3);
  auto job = BackupJob::start(path, dir.file("copy.db"));
  ASSERT_TRUE(job.ok());
  pollfd p{(*job)->fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  auto info = (*job)->result();
  ASSERT_TRUE(info.ok()) << info.error().message;
  Connection c = rawOpen(dir.file("copy.db"), OpenMode::kReadOnly);
  EXPECT_EQ(queryInt(c, "SELECT count(*) FROM devices"), 3);
}

// ---- Lock and in-use check --------------------------------------------------------------------

TEST(DatabaseLockTest, OneHolderAtATime) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  EXPECT_FALSE(DatabaseLock::acquire(path, false).ok()) << "no file, no create";
  {
    auto first = DatabaseLock::acquire(path, true);
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_EQ(testing::fileMode(path), 0600u);
    auto second = DatabaseLock::acquire(path, false);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, ErrorCode::kLimitReached);
    EXPECT_THAT(second.error().message, HasSubstr("in use by another lwgated"));
    // SQLite's own locks are not disturbed by it.
    Database db = openOk(path);
    addDevices(db.connection(), 0, 1);
  }
  EXPECT_TRUE(DatabaseLock::acquire(path, false).ok());
}

TEST(DatabaseInUseTest, SeesAnyOpenConnection) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  auto none = databaseInUse(path);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  {
    Database db = openOk(path);
    // databaseInUse() opens and closes the files, which would drop this process's own fcntl
    // locks; ask from another process, as lwgated --restore does.
    pid_t child = ::fork();
    if (child == 0) {
      auto r = databaseInUse(path);
      ::_exit(r.ok() && *r ? 0 : 1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "open database not seen";
  }
  auto after = databaseInUse(path);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(*after);
}

// ---- Restore ----------------------------------------------------------------------------------

TEST(RestoreTest, ChecksTheFile) {
  TempDir dir;
  testing::writeFile(dir.file("text"), "hello, this is not a database at all");
  auto text = checkRestorable(dir.file("text"), latestSchemaVersion());
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(text.error().message, HasSubstr("not an SQLite database"));

  {
    Connection other = rawOpen(dir.file("other.db"));
    execOk(other, "CREATE TABLE t (x); PRAGMA user_version = 1;");
  }
  auto other = checkRestorable(dir.file("other.db"), latestSchemaVersion());
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(other.error().message, HasSubstr("not an lwgate database"));

  { Database v1 = openOk(dir.file("v1.db"), {.targetVersion = 1}); }
  auto v1 = checkRestorable(dir.file("v1.db"), latestSchemaVersion());
  ASSERT_TRUE(v1.ok()) << v1.error().message;
  EXPECT_EQ(*v1, 1);

  { Database latest = openOk(dir.file("new.db")); }
  auto newer = checkRestorable(dir.file("new.db"), latestSchemaVersion() - 1);
  ASSERT_FALSE(newer.ok());
  EXPECT_THAT(newer.error().message, HasSubstr("newer than this lwgated supports"));

  auto missing = checkRestorable(dir.file("missing.db"), latestSchemaVersion());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("No such file"));
}

TEST(RestoreTest, PutsTheFileInPlaceAndKeepsThePreviousDatabaseWithItsWal) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  const std::string backup = dir.file("backup.db");
  {
    Database db = openOk(path);
    addDevices(db.connection(), 0, 2);
    ASSERT_TRUE(backupLiveDatabase(path, backup).ok());
    addDevices(db.connection(), 2, 3);
    // As after a crash: the last transactions only in the WAL.
    sqlite3_db_config(db.connection().handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    sqlite3_wal_autocheckpoint(db.connection().handle(), 0);
    addDevices(db.connection(), 5, 1);
  }
  ASSERT_GT(std::filesystem::file_size(path + "-wal"), 0u);

  auto r = restoreDatabase(backup, path, latestSchemaVersion(), 1700000000);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->schemaVersion, latestSchemaVersion());
  EXPECT_EQ(r->keptPath, path + ".before-restore-1700000000");
  EXPECT_FALSE(testing::exists(path + "-wal"));
  EXPECT_FALSE(testing::exists(path + "-shm"));
  EXPECT_EQ(testing::fileMode(path), 0600u);
  {
    Database restored = openOk(path);
    EXPECT_EQ(queryInt(restored.connection(), "SELECT count(*) FROM devices"), 2);
  }
  Connection kept = rawOpen(r->keptPath, OpenMode::kReadWrite);
  EXPECT_EQ(queryInt(kept, "SELECT count(*) FROM devices"), 6);
}

TEST(RestoreTest, NothingChangesWhenTheFileIsRefused) {
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  { Database db = openOk(path); }
  { Database newer = openOk(dir.file("newer.db")); }
  const auto before = testing::readFile(path);
  const auto files = listing(dir);
  auto r = restoreDatabase(dir.file("newer.db"), path, latestSchemaVersion() - 1, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(testing::readFile(path), before);
  EXPECT_EQ(listing(dir), files);
}

TEST(RestoreTest, AsRootTheCopyBelongsToTheDatabasesOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to hand files to another user";
  TempDir dir;
  const std::string path = dir.file("lwgate.db");
  { Database db = openOk(path); }
  { Database backup = openOk(dir.file("backup.db")); }
  ASSERT_EQ(::chown(path.c_str(), 4321, 4322), 0);
  auto r = restoreDatabase(dir.file("backup.db"), path, latestSchemaVersion(), 1);
  ASSERT_TRUE(r.ok()) << r.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4321u);
  EXPECT_EQ(st.st_gid, 4322u);
  EXPECT_EQ(testing::fileMode(path), 0600u);
}

TEST(RestoreTest, IntoAMissingDatabase) {
  TempDir dir;
  { Database v1 = openOk(dir.file("v1.db"), {.targetVersion = 1}); }
  auto r = restoreDatabase(dir.file("v1.db"), dir.file("lwgate.db"), latestSchemaVersion(), 1);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->keptPath, "");
  Database db = openOk(dir.file("lwgate.db"));
  EXPECT_EQ(db.migration().fromVersion, 1);
}

}  // namespace
}  // namespace lwgate::db
