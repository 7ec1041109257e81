#pragma once
// Opening lwgate's database: file creation, pragmas, schema migrations (DESIGN.md "Persistence").
//
// The schema is versioned with PRAGMA user_version and changed only by numbered forward
// migrations, each applied in one transaction together with the new user_version. Before an
// existing database is migrated it is copied to "<path>.schema-v<old>.bak" with the online backup
// API, so an operator who reverts lwgated can restore the settings and queues the old version
// knew (spec/cr-maintenance-upgrade-holdoff.txt, LightweightM2M-MaU-001..003). A database newer
// than this build is refused and never written to.
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "db/sqlite.h"
#include "gateway/util/result.h"

namespace lwgate::db {

// PRAGMA application_id of every lwgate database ("LWGT"), so a path pointing at some other
// program's SQLite file is refused instead of having our tables added to it.
inline constexpr std::int32_t kApplicationId = 0x4C574754;

// Oldest SQLite whose features the schema and the stores use (UPSERT in the registration store,
// sqlite3_prepare_v3, DBCONFIG_NO_CKPT_ON_CLOSE). Debian 10 has 3.27, OpenWrt 21+ newer.
inline constexpr int kMinSqliteVersion = 3024000;

struct Migration {
  int version;               // user_version after this migration; 1, 2, 3, ... without gaps
  std::string_view summary;  // one line for logs
  std::string_view sql;      // a script run inside the migration's transaction
};

// The migrations this build knows, in order. The newest version is latestSchemaVersion().
std::span<const Migration> migrations();
int latestSchemaVersion();

enum class Synchronous {
  kNormal,  // WAL + NORMAL: a committed transaction survives a crash of lwgated (default)
  kFull,    // also survives power loss, at the cost of an fsync per commit
};

struct DatabaseOptions {
  Synchronous synchronous = Synchronous::kNormal;
  // How long a statement waits for a lock another connection holds (lwgated is the only writer;
  // this covers an operator running sqlite3 on the file).
  std::chrono::milliseconds busyTimeout{5000};
  // Migrate only up to this version (tests build databases at every earlier version); default
  // the latest. A database already newer than this is refused like one newer than the latest.
  std::optional<int> targetVersion = std::nullopt;
  // Copy an existing database to "<path>.schema-v<old>.bak" before migrating it.
  bool backupBeforeMigration = true;
  // PRAGMA locking_mode=EXCLUSIVE: lwgated holds the file lock for as long as it runs, so no
  // other process (a second lwgated, an operator's sqlite3 shell) can open the database, and no
  // transaction pays for the file-lock system calls (measured: about a fifth of the cost of a
  // Register). Off by default because being able to look into a live database helps operators.
  bool exclusive = false;
};

// What openDatabase() did to the schema, for the daemon to log.
struct MigrationReport {
  int fromVersion = 0;     // user_version found in the file (0: new or empty database)
  int toVersion = 0;       // user_version now
  std::string backupPath;  // the backup written before migrating; empty when none was needed
  // The permission bits the file had when openDatabase() found it readable or writable by
  // others and made it 0600 (it holds DTLS keys); 0 when it already was private.
  unsigned fixedMode = 0;
};

// An open, migrated lwgate database. Move-only; the Connection lives on the heap, so stores can
// keep a Connection* that stays valid when the Database object is moved (it must outlive them).
class Database {
 public:
  Database(std::unique_ptr<Connection> connection, MigrationReport report);

  Connection& connection() { return *connection_; }
  const std::string& path() const { return connection_->path(); }
  int schemaVersion() const { return report_.toVersion; }
  const MigrationReport& migration() const { return report_; }

  // PRAGMA integrity_check + foreign_key_check.
  Result<void> checkIntegrity() { return db::checkIntegrity(*connection_); }

 private:
  std::unique_ptr<Connection> connection_;
  MigrationReport report_;
};

// Opens (creating, mode 0600, when missing; the directory must exist) and migrates the database
// at path. An existing file that group or others may access is made 0600 (with its -wal and
// -shm), because it holds the DTLS pre-shared keys. Errors are kStorage with a message for the
// operator:
//  - the file's mode cannot be made 0600 (not its owner);
//  - the file is not an SQLite database, or belongs to another application;
//  - its schema is newer than this lwgated knows (the file is left byte-for-byte as it was);
//  - the backup or a migration failed (the database stays at the version it was);
//  - SQLite is older than kMinSqliteVersion, or WAL cannot be enabled (e.g. on a network file
//    system).
Result<Database> openDatabase(const std::string& path, const DatabaseOptions& options = {});

// The same with another list of migrations: tests use it to exercise upgrade and backup paths
// with migrations the shipped list does not have yet. The list must be numbered 1, 2, 3, ...
Result<Database> openDatabase(const std::string& path, const DatabaseOptions& options,
                              std::span<const Migration> migrations);

// Path of the backup taken before migrating a database at fromVersion.
std::string backupPathFor(const std::string& path, int fromVersion);

}  // namespace lwgate::db
