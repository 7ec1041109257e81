#include "db/database.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

namespace lwgate::db {
namespace {

Error storage(std::string message) {
  return makeError(ErrorCode::kStorage, std::move(message));
}

Result<void> checkMigrationList(std::span<const Migration> list) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].version != static_cast<int>(i) + 1) {
      return makeError(ErrorCode::kInternal,
                       fmt::format("migration list is not numbered 1, 2, 3, ...: entry {} has "
                                   "version {}",
                                   i, list[i].version));
    }
  }
  return {};
}

// Creates the file with mode 0600 when it does not exist: SQLite would create it 0644, and the
// database will hold credentials (DTLS PSKs). SQLite gives -wal and -shm the database's mode.
Result<void> createIfMissing(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return storage(fmt::format("database {} is not a regular file", path));
    }
    return {};
  }
  if (errno != ENOENT) {
    return storage(fmt::format("cannot access database {}: {}", path, std::strerror(errno)));
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno != EEXIST) {
    int err = errno;
    return storage(fmt::format("cannot create database {}: {}{}", path, std::strerror(err),
                               err == ENOENT ? " (its directory must exist)" : ""));
  }
  if (fd >= 0) ::close(fd);
  return {};
}

// The database holds DTLS pre-shared keys: group and others get no access, whatever mode an
// operator or an older lwgated (which respected existing modes) left. SQLite creates -wal and
// -shm with the database's mode, but ones left from before the change keep theirs.
Result<unsigned> makePrivate(const std::string& path) {
  unsigned fixed = 0;
  for (const std::string& file : {path, path + "-wal", path + "-shm"}) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) continue;  // -wal/-shm may not exist
    const unsigned mode = st.st_mode & 07777;
    if ((mode & 077) == 0) continue;
    if (::chmod(file.c_str(), 0600) != 0) {
      return storage(fmt::format(
          "database file {} has mode {:04o} and cannot be made 0600: {}; it holds DTLS keys, "
          "so lwgated does not open it readable by others (fix its owner or mode)",
          file, mode, std::strerror(errno)));
    }
    if (file == path) fixed = mode;
  }
  return fixed;
}

// SQLite opens anything and only complains at the first read, with a terse "file is not a
// database"; say plainly what is wrong before SQLite sees the file. An empty file is a valid new
// database.
Result<void> checkHeader(const std::string& path) {
  static constexpr char kMagic[16] = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f',
                                      'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};
  std::ifstream in(path, std::ios::binary);
  if (!in) return storage(fmt::format("cannot read database {}", path));
  char header[sizeof kMagic] = {};
  in.read(header, sizeof header);
  auto got = in.gcount();
  if (got == 0) return {};
  if (got != sizeof header || std::memcmp(header, kMagic, sizeof kMagic) != 0) {
    return storage(
        fmt::format("{} is not an SQLite database; refusing to open it (check the "
                    "database path)",
                    path));
  }
  return {};
}

struct Probe {
  int userVersion = 0;
  std::int64_t applicationId = 0;
  std::int64_t schemaObjects = 0;
};

Result<Probe> probe(Connection& c) {
  Probe p;
  auto version = c.queryInt("PRAGMA user_version", "reading the schema version");
  if (!version) return version.error();
  auto appId = c.queryInt("PRAGMA application_id", "reading the application id");
  if (!appId) return appId.error();
  auto objects = c.queryInt("SELECT count(*) FROM sqlite_master", "reading the schema");
  if (!objects) return objects.error();
  p.userVersion = static_cast<int>(*version);
  p.applicationId = *appId;
  p.schemaObjects = *objects;
  return p;
}

Result<void> setPragmas(Connection& c, const DatabaseOptions& options) {
  // WAL: readers never block the writer, and a commit is one append to the log. The result is the
  // mode in effect, which stays "delete" where WAL is impossible (e.g. no shared memory on a
  // network file system); our durability story depends on WAL, so that is an error.
  auto mode = c.queryText("PRAGMA journal_mode=WAL", "enabling WAL");
  if (!mode) return mode.error();
  if (*mode != "wal") {
    return storage(
        fmt::format("cannot enable WAL on database {} (journal mode stays \"{}\"); "
                    "put the database on a local file system",
                    c.path(), *mode));
  }
  const char* sync = options.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL"
                                                               : "PRAGMA synchronous=NORMAL";
  return c.exec(sync, "setting synchronous");
}

Result<void> applyMigration(Connection& c, const Migration& m) {
  auto tx = Transaction::begin(c);
  if (!tx) return tx.error();
  // Read again under the write lock: another process may have migrated meanwhile.
  auto current = c.queryInt("PRAGMA user_version", "reading the schema version");
  if (!current) return current.error();
  if (*current >= m.version) return {};  // done by someone else; the transaction rolls back
  if (*current != m.version - 1) {
    return storage(fmt::format("schema version changed to {} while migrating", *current));
  }
  if (auto r = c.exec(std::string(m.sql), "running the migration script"); !r) return r.error();
  if (auto r = c.exec(fmt::format("PRAGMA user_version = {}; PRAGMA application_id = {};",
                                  m.version, kApplicationId),
                      "setting the schema version");
      !r) {
    return r.error();
  }
  // foreign_keys is off while migrating (a table rebuild would otherwise cascade deletes); check
  // by hand that the new schema's data is consistent before committing it.
  auto fkViolations =
      c.queryInt("SELECT count(*) FROM pragma_foreign_key_check", "checking foreign keys");
  if (!fkViolations) return fkViolations.error();
  if (*fkViolations != 0) {
    return storage(fmt::format("the migration leaves {} foreign key violations", *fkViolations));
  }
  return tx->commit();
}

}  // namespace

Database::Database(std::unique_ptr<Connection> connection, MigrationReport report)
    : connection_(std::move(connection)), report_(std::move(report)) {}

std::string backupPathFor(const std::string& path, int fromVersion) {
  return fmt::format("{}.schema-v{}.bak", path, fromVersion);
}

Result<Database> openDatabase(const std::string& path, const DatabaseOptions& options) {
  return openDatabase(path, options, migrations());
}

Result<Database> openDatabase(const std::string& path, const DatabaseOptions& options,
                              std::span<const Migration> list) {
  if (auto r = checkMigrationList(list); !r) return r.error();
  const int latest = static_cast<int>(list.size());
  const int target = options.targetVersion.value_or(latest);
  if (target < 0 || target > latest) {
    return makeError(ErrorCode::kInternal,
                     fmt::format("target schema version {} is not in 0..{}", target, latest));
  }
  if (sqlite3_libversion_number() < kMinSqliteVersion) {
    return storage(fmt::format("SQLite {} is too old; lwgated needs {}.{}.{} or newer",
                               sqlite3_libversion(), kMinSqliteVersion / 1000000,
                               kMinSqliteVersion / 1000 % 1000, kMinSqliteVersion % 1000));
  }
  if (path.empty()) return storage("the database path is empty");

  if (auto r = createIfMissing(path); !r) return r.error();
  if (auto r = checkHeader(path); !r) return r.error();
  auto opened = Connection::open(path, OpenMode::kReadWrite);
  if (!opened) return opened.error();
  auto connection = std::make_unique<Connection>(std::move(*opened));
  Connection& c = *connection;

  // Until we know the file is ours and not too new, nothing may be written to it. Reading does
  // not write, but closing a WAL database normally checkpoints it into the main file.
  sqlite3_db_config(c.handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  sqlite3_busy_timeout(c.handle(), static_cast<int>(options.busyTimeout.count()));
  if (options.exclusive) {
    // Before the first read: then SQLite keeps the WAL index in process memory instead of the
    // -shm file.
    if (auto r = c.exec("PRAGMA locking_mode=EXCLUSIVE", "setting exclusive locking"); !r) {
      return r.error();
    }
  }

  auto found = probe(c);
  if (!found) {
    return storage(fmt::format("cannot read database {}: {}", path, found.error().message));
  }
  const int version = found->userVersion;
  if (version > latest) {
    return storage(fmt::format(
        "{}: database schema version {} is newer than this lwgated supports ({}); refusing to "
        "open it — restore the backup taken before the upgrade or run a newer lwgated",
        path, version, latest));
  }
  if (version > target) {
    return storage(fmt::format("{}: database schema version {} is newer than the requested {}",
                               path, version, target));
  }
  const bool fresh = version == 0 && found->schemaObjects == 0;
  if (!fresh && (version == 0 || found->applicationId != kApplicationId)) {
    return storage(
        fmt::format("{} is an SQLite database of another application (application_id "
                    "{}, user_version {}, {} schema objects); refusing to modify it",
                    path, found->applicationId, version, found->schemaObjects));
  }
  // Only now that the file is known to be ours is its mode touched.
  auto fixedMode = makePrivate(path);
  if (!fixedMode) return fixedMode.error();
  sqlite3_db_config(c.handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr);

  if (auto r = setPragmas(c, options); !r) return r.error();
  // Off while migrating, see applyMigration(); it cannot change inside a transaction.
  if (auto r = c.exec("PRAGMA foreign_keys=OFF", "disabling foreign keys"); !r) return r.error();

  MigrationReport report{
      .fromVersion = version, .toVersion = version, .backupPath = {}, .fixedMode = *fixedMode};
  if (version >= 1 && version < target && options.backupBeforeMigration) {
    report.backupPath = backupPathFor(path, version);
    if (auto r = backupDatabase(c, report.backupPath); !r) {
      return storage(
          fmt::format("not migrating database {} from schema version {}: the backup "
                      "before the migration failed: {}",
                      path, version, r.error().message));
    }
  }
  for (const Migration& m : list) {
    if (m.version <= version || m.version > target) continue;
    if (auto r = applyMigration(c, m); !r) {
      return storage(
          fmt::format("migrating database {} to schema version {} ({}) failed, it "
                      "stays at version {}: {}",
                      path, m.version, m.summary, report.toVersion, r.error().message));
    }
    report.toVersion = m.version;
  }

  if (auto r = c.exec("PRAGMA foreign_keys=ON", "enabling foreign keys"); !r) return r.error();
  // A build with SQLITE_OMIT_FOREIGN_KEY accepts the pragma and does nothing; our deletes rely on
  // ON DELETE CASCADE.
  auto fk = c.queryInt("PRAGMA foreign_keys", "checking foreign keys");
  if (!fk || *fk != 1) return storage("this SQLite does not enforce foreign keys");

  return Database(std::move(connection), std::move(report));
}

}  // namespace lwgate::db
