#pragma once
// Operator maintenance of lwgate's database (DESIGN.md "Persistence", issue 7 "Upgrades and
// rollback"): online backups of the live database, the lock that keeps one lwgated per database,
// and putting a backup back in place (`lwgated --restore`).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "db/sqlite.h"
#include "gateway/util/result.h"

namespace lwgate::db {

// An flock(2) on the database file itself, held for as long as lwgated runs and by
// `lwgated --restore`, so neither starts while the other works on the same database. flock locks
// are independent of the fcntl(2) locks SQLite takes on the same file (Linux, local file
// systems; WAL rules out network ones anyway) and the kernel drops them when the process dies, so
// a crashed lwgated never leaves a stale lock.
//
// The descriptor must stay open while this process has SQLite connections to the file: closing
// any descriptor of a file drops the process's fcntl locks on it (POSIX), SQLite's included. The
// daemon keeps the lock for its whole life and destroys it after the database.
class DatabaseLock {
 public:
  // Creates the file (mode 0600, as openDatabase() does) when `create` and it is missing.
  // kLimitReached when another process holds the lock.
  static Result<DatabaseLock> acquire(const std::string& path, bool create);
  DatabaseLock(DatabaseLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DatabaseLock& operator=(DatabaseLock&& other) noexcept;
  DatabaseLock(const DatabaseLock&) = delete;
  DatabaseLock& operator=(const DatabaseLock&) = delete;
  ~DatabaseLock();

 private:
  explicit DatabaseLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Whether any process has an SQLite connection to the database at path, whatever its version or
// program (an older lwgated that takes no DatabaseLock, an operator's sqlite3 shell): in WAL mode
// every connection holds a shared fcntl lock on the "DMS" byte of <path>-shm for as long as it is
// open (https://sqlite.org/walformat.html, 2.3.1); in exclusive locking mode the holder keeps a
// lock on the database file's lock bytes. Tested with F_GETLK, which takes no lock.
Result<bool> databaseInUse(const std::string& path);

struct BackupInfo {
  int schemaVersion = 0;
  std::int64_t pages = 0;
  std::int64_t bytes = 0;
};

// Copies the database at sourcePath to destPath, which must not exist, with the online backup
// API, while another connection (lwgated's writer) goes on writing. A connection of its own
// holds one read transaction for the whole copy, so the copy is one consistent snapshot; in WAL
// mode that reader never blocks the writer (the WAL only cannot be reset until it ends). The
// copy is made in slices of `pagesPerStep` so `stop` is looked at between them.
//
// The copy goes to a temporary file (mode 0600) in destPath's directory, is made a
// self-contained rollback-journal database, synced, and linked to destPath only if nothing
// appeared there meanwhile (renameat2 RENAME_NOREPLACE): destPath is either absent or a complete
// copy. Errors: kBadRequest when destPath exists, kStorage for I/O and SQLite errors.
Result<BackupInfo> backupLiveDatabase(const std::string& sourcePath, const std::string& destPath,
                                      const std::atomic<bool>* stop = nullptr,
                                      int pagesPerStep = 1024);

// backupLiveDatabase() on a thread of its own, for the event loop: fd() becomes readable (an
// eventfd) when the copy is finished, then result() has the outcome. The destructor asks the
// copy to stop and waits for the thread.
class BackupJob {
 public:
  static Result<std::unique_ptr<BackupJob>> start(std::string sourcePath, std::string destPath);
  ~BackupJob();
  BackupJob(const BackupJob&) = delete;
  BackupJob& operator=(const BackupJob&) = delete;

  int fd() const { return eventFd_; }
  const std::string& destPath() const { return destPath_; }
  // Joins the thread; call once fd() is readable.
  Result<BackupInfo> result();

 private:
  BackupJob(std::string sourcePath, std::string destPath, int eventFd);
  std::string sourcePath_;
  std::string destPath_;
  int eventFd_ = -1;
  std::atomic<bool> stop_{false};
  Result<BackupInfo> result_ = BackupInfo{};
  std::thread thread_;
};

// Checks that `file` is an lwgate database this build can run: an SQLite file, our
// application_id, a schema version from 1 to maxVersion, PRAGMA integrity_check and
// foreign_key_check clean. Returns its schema version; kBadRequest says what is wrong.
Result<int> checkRestorable(const std::string& file, int maxVersion);

struct RestoreReport {
  int schemaVersion = 0;  // of the restored file
  std::string keptPath;   // where the previous database is now ("" when there was none)
};

// Puts a copy of `file` in place of the database at dbPath (lwgated --restore). The caller holds
// the DatabaseLock and has checked databaseInUse(). Steps, so that nothing changes on any error:
//  1. checkRestorable(file);
//  2. copy it with the backup API to a temporary file (mode 0600; run as root, owned by the
//     current database's owner, else the directory's) in dbPath's directory, check the copy
//     again, sync it;
//  3. keep the current database (when there is one) as "<dbPath>.before-restore-<unixTime>" by
//     a hard link, with its -wal (a crash may have left committed transactions there) as
//     "<kept>-wal";
//  4. remove <dbPath>-wal and -shm (a stale WAL would be replayed onto the restored file) and
//     rename the copy over dbPath; sync the directory.
// A failure after step 3 undoes what was done.
Result<RestoreReport> restoreDatabase(const std::string& file, const std::string& dbPath,
                                      int maxVersion, std::int64_t unixTime);

}  // namespace lwgate::db
