#include "db/maintenance.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "db/database.h"
#include "db/files.h"

namespace lwgate::db {
namespace {

Error storage(std::string message) {
  return makeError(ErrorCode::kStorage, std::move(message));
}
Error rejected(std::string message) {
  return makeError(ErrorCode::kBadRequest, std::move(message));
}

std::string baseName(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// A new empty file (mode 0600, mkstemp's) next to `near`, named so that it is obviously ours and
// temporary: ".<name>.<what>-XXXXXX". Removed by the destructor unless kept.
class TempFile {
 public:
  static Result<TempFile> create(const std::string& near, std::string_view what) {
    std::string pattern =
        fmt::format("{}/.{}.{}-XXXXXX", parentDirectory(near), baseName(near), what);
    int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd < 0) {
      return posixError("cannot create a temporary file in", parentDirectory(near), errno);
    }
    ::close(fd);
    return TempFile(std::move(pattern));
  }
  TempFile(TempFile&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    if (path_.empty()) return;
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) ::unlink((path_ + suffix).c_str());
  }
  const std::string& path() const { return path_; }
  void keep() { path_.clear(); }

 private:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Copies source's main database into the (new, empty) database file at destPath with the backup
// API, `pagesPerStep` pages at a time, and makes the copy a rollback-journal database: a backup
// is a single file people copy around.
Result<std::int64_t> copyDatabase(Connection& source, const std::string& destPath,
                                  const std::atomic<bool>* stop, int pagesPerStep) {
  auto dest = Connection::open(destPath, OpenMode::kReadWrite);
  if (!dest) return dest.error();
  sqlite3_backup* backup = sqlite3_backup_init(dest->handle(), "main", source.handle(), "main");
  if (backup == nullptr) {
    return dest->error(sqlite3_errcode(dest->handle()),
                       fmt::format("copying {} to {}", source.path(), destPath));
  }
  int rc = SQLITE_OK;
  while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    if (stop != nullptr && stop->load()) break;
    rc = sqlite3_backup_step(backup, pagesPerStep);
  }
  const std::int64_t pages = sqlite3_backup_pagecount(backup);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    if (stop != nullptr && stop->load())
      return storage("the copy was stopped (lwgated is exiting)");
    return dest->error(rc, fmt::format("copying {} to {}", source.path(), destPath));
  }
  if (auto r = dest->exec("PRAGMA journal_mode=DELETE", "setting the copy's journal mode"); !r) {
    return r.error();
  }
  return pages;
}

// Links a file that is complete and synced into place: fails with kBadRequest instead of
// replacing something that appeared at destPath meanwhile.
Result<void> renameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err == EEXIST) return rejected(fmt::format("{} exists; not replacing it", to));
    return posixError("cannot rename the copy to", to, err);
  }
  return {};
}

std::int64_t fileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_size) : 0;
}

// Whether some process holds an fcntl lock that conflicts with a write lock on [start, start+len).
Result<bool> lockedRange(const std::string& path, off_t start, off_t len) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    return posixError("cannot open", path, errno);
  }
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  int rc = ::fcntl(fd, F_GETLK, &fl);
  int err = errno;
  ::close(fd);
  if (rc != 0) return posixError("cannot test the locks of", path, err);
  return fl.l_type != F_UNLCK;
}

// Reading a database in WAL mode, even read-only, creates its -wal and -shm when they are
// missing, and a read-only connection does not remove them when it closes. Reading a file an
// operator hands to lwgated --restore must leave its directory as it was: this removes the ones
// that were not there before, once the connections are closed, if the WAL holds nothing.
class SidecarGuard {
 public:
  explicit SidecarGuard(std::string path)
      : path_(std::move(path)), hadWal_(exists(path_ + "-wal")), hadShm_(exists(path_ + "-shm")) {}
  SidecarGuard(const SidecarGuard&) = delete;
  SidecarGuard& operator=(const SidecarGuard&) = delete;
  ~SidecarGuard() {
    struct stat st {};
    if (hadWal_ || ::stat((path_ + "-wal").c_str(), &st) != 0 || st.st_size != 0) return;
    ::unlink((path_ + "-wal").c_str());
    if (!hadShm_) ::unlink((path_ + "-shm").c_str());
  }

 private:
  std::string path_;
  bool hadWal_;
  bool hadShm_;
};

}  // namespace

// ---- DatabaseLock -------------------------------------------------------------------------------

Result<DatabaseLock> DatabaseLock::acquire(const std::string& path, bool create) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
  if (fd < 0) {
    int err = errno;
    return storage(fmt::format("cannot open database {}: {}{}", path, std::strerror(err),
                               err == ENOENT && create ? " (its directory must exist)" : ""));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return makeError(ErrorCode::kLimitReached,
                       fmt::format("database {} is in use by another lwgated (or lwgated "
                                   "--restore); stop it first",
                                   path));
    }
    return posixError("cannot lock database", path, err);
  }
  return DatabaseLock(fd);
}

DatabaseLock& DatabaseLock::operator=(DatabaseLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

DatabaseLock::~DatabaseLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result<bool> databaseInUse(const std::string& path) {
  // WAL: the dead man switch byte of the wal-index (offset 120 + 8 locks = 128), shared-locked by
  // every open connection.
  auto shm = lockedRange(path + "-shm", 128, 1);
  if (!shm || *shm) return shm;
  // Rollback journal or exclusive locking mode: PENDING_BYTE (0x40000000), RESERVED and the
  // SHARED range after it.
  return lockedRange(path, 0x40000000, 512);
}

// ---- Online backup ------------------------------------------------------------------------------

Result<BackupInfo> backupLiveDatabase(const std::string& sourcePath, const std::string& destPath,
                                      const std::atomic<bool>* stop, int pagesPerStep) {
  if (exists(destPath)) return rejected(fmt::format("{} exists; not replacing it", destPath));
  auto temp = TempFile::create(destPath, "backup");
  if (!temp) return temp.error();
  BackupInfo info;
  {
    auto source = Connection::open(sourcePath, OpenMode::kReadOnly);
    if (!source) return source.error();
    sqlite3_busy_timeout(source->handle(), 5000);
    // One read transaction across all steps: the backup API opens (and closes) one per step only
    // when none is open, so this one snapshot is what every slice copies, and writes by lwgated
    // meanwhile neither restart the copy nor show up in it.
    if (auto r = source->exec("BEGIN", "starting the backup's read transaction"); !r) {
      return r.error();
    }
    auto version = source->queryInt("PRAGMA user_version", "reading the schema version");
    if (!version) return version.error();
    info.schemaVersion = static_cast<int>(*version);
    auto pages = copyDatabase(*source, temp->path(), stop, pagesPerStep);
    (void)source->exec("COMMIT", "ending the backup's read transaction");
    if (!pages) return pages.error();
    info.pages = *pages;
  }
  if (auto r = fsyncPath(temp->path(), O_RDONLY); !r) return r.error();
  if (auto r = renameNoReplace(temp->path(), destPath); !r) return r.error();
  temp->keep();
  info.bytes = fileSize(destPath);
  if (auto r = fsyncPath(parentDirectory(destPath), O_RDONLY | O_DIRECTORY); !r) return r.error();
  return info;
}

Result<std::unique_ptr<BackupJob>> BackupJob::start(std::string sourcePath, std::string destPath) {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return posixError("cannot create an eventfd for", destPath, errno);
  std::unique_ptr<BackupJob> job(new BackupJob(std::move(sourcePath), std::move(destPath), fd));
  job->thread_ = std::thread([p = job.get()] {
    p->result_ = backupLiveDatabase(p->sourcePath_, p->destPath_, &p->stop_);
    std::uint64_t one = 1;
    (void)!::write(p->eventFd_, &one, sizeof one);
  });
  return job;
}

BackupJob::BackupJob(std::string sourcePath, std::string destPath, int eventFd)
    : sourcePath_(std::move(sourcePath)), destPath_(std::move(destPath)), eventFd_(eventFd) {}

BackupJob::~BackupJob() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (eventFd_ >= 0) ::close(eventFd_);
}

Result<BackupInfo> BackupJob::result() {
  if (thread_.joinable()) thread_.join();
  return result_;
}

// ---- Restore ------------------------------------------------------------------------------------

Result<int> checkRestorable(const std::string& file, int maxVersion) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return posixError("cannot read", file, errno);
  if (!S_ISREG(st.st_mode)) return rejected(fmt::format("{} is not a regular file", file));
  {
    static constexpr char kMagic[16] = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f',
                                        'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};
    std::ifstream in(file, std::ios::binary);
    if (!in) return storage(fmt::format("cannot read {}", file));
    char header[sizeof kMagic] = {};
    in.read(header, sizeof header);
    if (in.gcount() != sizeof header || std::memcmp(header, kMagic, sizeof kMagic) != 0) {
      return rejected(fmt::format("{} is not an SQLite database", file));
    }
  }
  SidecarGuard sidecars(file);
  auto c = Connection::open(file, OpenMode::kReadOnly);
  if (!c) return rejected(fmt::format("cannot open {}: {}", file, c.error().message));
  auto appId = c->queryInt("PRAGMA application_id", "reading the application id");
  if (!appId) return rejected(fmt::format("cannot read {}: {}", file, appId.error().message));
  auto version = c->queryInt("PRAGMA user_version", "reading the schema version");
  if (!version) return rejected(fmt::format("cannot read {}: {}", file, version.error().message));
  if (*appId != kApplicationId || *version < 1) {
    return rejected(
        fmt::format("{} is not an lwgate database (application_id {}, schema version {})", file,
                    *appId, *version));
  }
  if (*version > maxVersion) {
    return rejected(
        fmt::format("{} has schema version {}, newer than this lwgated supports ({}); restore "
                    "it with the lwgated that wrote it, or a newer one",
                    file, *version, maxVersion));
  }
  if (auto r = checkIntegrity(*c); !r) return rejected(r.error().message);
  return static_cast<int>(*version);
}

Result<RestoreReport> restoreDatabase(const std::string& file, const std::string& dbPath,
                                      int maxVersion, std::int64_t unixTime) {
  RestoreReport report;
  auto version = checkRestorable(file, maxVersion);
  if (!version) return version.error();
  report.schemaVersion = *version;

  auto temp = TempFile::create(dbPath, "restore");
  if (!temp) return temp.error();
  {
    SidecarGuard sidecars(file);
    auto source = Connection::open(file, OpenMode::kReadOnly);
    if (!source) return source.error();
    auto pages = copyDatabase(*source, temp->path(), nullptr, -1);
    if (!pages) return pages.error();
  }
  // Run as root (sudo lwgated --restore), the copy would belong to root and the service user
  // could not open it: it gets the owner of the database it replaces, or of the directory.
  if (::geteuid() == 0) {
    struct stat owner {};
    // An empty database file is the one lwgated --restore created to hold the lock.
    const bool fromDatabase = fileSize(dbPath) > 0 && ::stat(dbPath.c_str(), &owner) == 0;
    if (fromDatabase || ::stat(parentDirectory(dbPath).c_str(), &owner) == 0) {
      if (::chown(temp->path().c_str(), owner.st_uid, owner.st_gid) != 0) {
        return posixError("cannot give the restored copy the database's owner:", temp->path(),
                          errno);
      }
    }
  }
  // What goes into place is the copy: check it, not only what it was copied from.
  if (auto again = checkRestorable(temp->path(), maxVersion); !again) return again.error();
  if (auto r = fsyncPath(temp->path(), O_RDONLY); !r) return r.error();

  // Undo log for everything below: links made, names removed.
  std::vector<std::string> linked;
  std::vector<std::pair<std::string, std::string>> moved;  // (original, kept link)
  auto undo = [&] {
    for (const auto& [original, kept] : moved) (void)!::link(kept.c_str(), original.c_str());
    for (const auto& path : linked) ::unlink(path.c_str());
  };
  // An empty file (one lwgated --restore created to hold the lock) has nothing to keep.
  if (fileSize(dbPath) > 0 || fileSize(dbPath + "-wal") > 0) {
    report.keptPath = fmt::format("{}.before-restore-{}", dbPath, unixTime);
    if (exists(report.keptPath)) {
      return storage(fmt::format("{} exists already; try again in a second", report.keptPath));
    }
    if (::link(dbPath.c_str(), report.keptPath.c_str()) != 0) {
      return posixError("cannot keep the current database as", report.keptPath, errno);
    }
    linked.push_back(report.keptPath);
    // A WAL (or hot journal) left by a crash holds committed transactions of the current
    // database: it goes with it.
    for (const char* suffix : {"-wal", "-journal"}) {
      const std::string from = dbPath + suffix;
      const std::string to = report.keptPath + suffix;
      if (fileSize(from) == 0) continue;
      if (::link(from.c_str(), to.c_str()) != 0) {
        int err = errno;
        undo();
        return posixError("cannot keep the current database's", from, err);
      }
      linked.push_back(to);
    }
  }
  // A stale -wal would be replayed onto the restored file, a stale -shm describe the wrong WAL.
  for (const char* suffix : {"-wal", "-journal", "-shm"}) {
    const std::string stale = dbPath + suffix;
    if (!exists(stale)) continue;
    const bool keptCopy =
        fileSize(stale) > 0 && !report.keptPath.empty() && std::string_view(suffix) != "-shm";
    if (::unlink(stale.c_str()) != 0) {
      int err = errno;
      undo();
      return posixError("cannot remove", stale, err);
    }
    if (keptCopy) moved.emplace_back(stale, report.keptPath + suffix);
  }
  if (::rename(temp->path().c_str(), dbPath.c_str()) != 0) {
    int err = errno;
    undo();
    return posixError("cannot put the restored database in place at", dbPath, err);
  }
  temp->keep();
  if (auto r = fsyncPath(parentDirectory(dbPath), O_RDONLY | O_DIRECTORY); !r) return r.error();
  return report;
}

}  // namespace lwgate::db
