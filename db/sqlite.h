#pragma once
// RAII wrappers for the SQLite C API, and the one place where SQLite result codes become
// lwgate::Error values (ErrorCode::kStorage, with sqlite3_errmsg and what was being done).
//
// Everything here is used from one thread (the main loop owns SQLite, see DESIGN.md "Threads"),
// so connections are opened with SQLITE_OPEN_NOMUTEX.
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/util/result.h"

namespace lwgate::db {

// A kStorage error: "<what>: <sqlite3_errmsg> (SQLite error <extended code>)".
Error storageError(sqlite3* db, int rc, std::string_view what);

// A prepared statement (move-only). Bind indices are 1-based, column indices 0-based, as in the
// C API.
//
// Bind calls never fail on their own: the first bind error is remembered and returned by the
// next step()/run(), so a statement is bound in a straight line and checked once.
// Text and blobs are copied (SQLITE_TRANSIENT), so temporaries may be bound safely.
// A transaction begun with Transaction::beginLazy() that has not run a statement yet: BEGIN
// IMMEDIATE is sent just before the first statement of its connection (statements share it with
// their connection, on the heap so that a moved Connection keeps it).
struct LazyBegin {
  bool pending = false;
  sqlite3_stmt* begin = nullptr;  // the connection's BEGIN IMMEDIATE
  Result<void> start();
};

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3_stmt* stmt, std::string label);
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  bool valid() const { return stmt_ != nullptr; }
  sqlite3_stmt* handle() const { return stmt_; }
  const std::string& label() const { return label_; }

  Statement& bindInt(int index, std::int64_t value);
  Statement& bindDouble(int index, double value);
  Statement& bindText(int index, std::string_view value);
  Statement& bindBlob(int index, std::span<const std::uint8_t> value);
  Statement& bindNull(int index);
  // NULL when value is empty: for optional text columns such as an SMS number.
  Statement& bindTextOrNull(int index, std::string_view value);
  Statement& bindOptionalInt(int index, std::optional<std::int64_t> value);

  // Advances: true when a row is available, false when the statement is done. On error the
  // statement is reset so it can be used again.
  Result<bool> step();
  // Steps until done (rows, if any, are ignored) and resets: for INSERT/UPDATE/DELETE.
  Result<void> run();
  // Resets so the statement can run again and releases the read snapshot a half-read query
  // holds. Bindings are kept; every user binds all parameters anyway.
  void reset();

  bool columnIsNull(int column) const;
  std::int64_t columnInt(int column) const;
  double columnDouble(int column) const;
  std::string columnText(int column) const;
  // Valid until the next step() or reset().
  std::string_view columnTextView(int column) const;
  std::vector<std::uint8_t> columnBlob(int column) const;
  std::optional<std::int64_t> columnOptionalInt(int column) const;

 private:
  friend class Connection;
  Statement& noteBind(int rc, int index);

  LazyBegin* lazy_ = nullptr;  // the connection's, set by Connection::prepare
  sqlite3_stmt* stmt_ = nullptr;
  std::string label_;  // what this statement does, for error messages
  int bindRc_ = SQLITE_OK;
  int bindIndex_ = 0;
};

// Resets a statement when the scope ends, so a query that returned early (error, first row
// only) does not keep its read snapshot open and hold back WAL checkpoints.
class [[nodiscard]] ScopedReset {
 public:
  explicit ScopedReset(Statement& stmt) : stmt_(stmt) {}
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;
  ~ScopedReset() { stmt_.reset(); }

 private:
  Statement& stmt_;
};

enum class OpenMode {
  kReadWriteCreate,
  kReadWrite,
  kReadOnly,
};

// One sqlite3 connection (move-only). It has no opinion about pragmas or schema: openDatabase()
// in database.h sets those up; tests and the backup code use Connection directly.
class Connection {
 public:
  // Opens path with extended result codes on. Fails with a clear message when the file cannot be
  // opened; note that SQLite reads the file lazily, so a file that is not a database is only
  // detected by the first query.
  static Result<Connection> open(const std::string& path, OpenMode mode);

  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

  // Compiles one SQL statement; label says what it does (it prefixes error messages).
  // Persistent: the statements are meant to live as long as the store that prepared them.
  Result<Statement> prepare(std::string_view sql, std::string label);

  // Runs a script of zero or more statements (migrations, pragmas).
  Result<void> exec(const std::string& sql, std::string_view what);

  // First column of the first row of a one-statement query (PRAGMA user_version, ...).
  Result<std::int64_t> queryInt(std::string_view sql, std::string_view what);
  Result<std::string> queryText(std::string_view sql, std::string_view what);

  // Rows changed by the last INSERT/UPDATE/DELETE, and the rowid of the last INSERT.
  std::int64_t changes() const;
  std::int64_t lastInsertRowid() const;
  // False while a transaction is open (a lazy one too, before its first statement).
  bool autocommit() const;

  Error error(int rc, std::string_view what) const { return storageError(db_, rc, what); }

 private:
  friend class Transaction;
  Connection(sqlite3* db, std::string path);
  void close();

  sqlite3* db_ = nullptr;
  std::string path_;
  // BEGIN IMMEDIATE / COMMIT / ROLLBACK and their savepoint counterparts, prepared once: every
  // store call is one transaction and re-parsing them 20,000 times a second is measurable.
  Statement begin_;
  Statement commit_;
  Statement rollback_;
  Statement savepoint_;
  Statement release_;
  Statement rollbackTo_;
  std::unique_ptr<LazyBegin> lazy_ = std::make_unique<LazyBegin>();
};

// BEGIN IMMEDIATE .. COMMIT. Immediate, so the write lock is taken (or busy_timeout waited for)
// at the start instead of failing with SQLITE_BUSY halfway through. The destructor rolls back a
// transaction that was not committed, so every early return leaves the database unchanged.
//
// Transactions nest: begun while another is open, a Transaction is a SAVEPOINT inside it, and
// its commit() only releases the savepoint; what it did becomes durable when the outermost
// transaction commits, and its rollback undoes only its own changes. That is how the daemon can
// group the store calls of one burst of events into a single commit (group commit: one WAL
// append and one set of lock round trips for many events), provided it sends the replies only
// after the outer commit.
class [[nodiscard]] Transaction {
 public:
  static Result<Transaction> begin(Connection& connection);
  // The same, except that BEGIN IMMEDIATE waits for the first statement on the connection: a
  // batch that turns out to change nothing costs no locks and no commit (the daemon opens one
  // for every wake-up of its CoAP socket). If that BEGIN fails, the statement that needed it
  // fails with the error and later ones run on their own, as without a transaction.
  static Transaction beginLazy(Connection& connection);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Result<void> commit();
  // Explicit rollback (the destructor does the same). Idempotent.
  void rollback();

 private:
  Transaction(Connection* connection, bool nested, bool lazy = false)
      : connection_(connection), nested_(nested), lazy_(lazy) {}

  Connection* connection_ = nullptr;  // null once committed or rolled back
  bool nested_ = false;               // a SAVEPOINT inside an outer transaction
  bool lazy_ = false;                 // from beginLazy(), outermost
};

// Copies the whole database behind `source` to a new file at destPath with the online backup
// API (a consistent snapshot even while the database is in use). The copy is written to
// destPath + ".tmp", synced, and renamed over destPath, so destPath is either the old file or a
// complete copy; the new file has mode 0600 because the database holds credentials.
Result<void> backupDatabase(Connection& source, const std::string& destPath);

// PRAGMA integrity_check and PRAGMA foreign_key_check: ok, or kStorage listing the problems.
Result<void> checkIntegrity(Connection& connection);

}  // namespace lwgate::db
