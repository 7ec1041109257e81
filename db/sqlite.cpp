#include "db/sqlite.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "db/files.h"
#include "gateway/util/log.h"

namespace lwgate::db {
namespace {

bool onlySeparators(const char* tail, const char* end) {
  for (; tail < end; ++tail) {
    char c = *tail;
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ';') return false;
  }
  return true;
}

}  // namespace

Error storageError(sqlite3* db, int rc, std::string_view what) {
  // sqlite3_errmsg describes the last failed call on this connection, which is the one that
  // returned rc as long as callers build the error straight away (they do).
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return makeError(ErrorCode::kStorage, fmt::format("{}: {} (SQLite error {})", what, message, rc));
}

// ---- Statement ---------------------------------------------------------------------------------

Statement::Statement(sqlite3_stmt* stmt, std::string label)
    : stmt_(stmt), label_(std::move(label)) {}

Statement::Statement(Statement&& other) noexcept
    : lazy_(std::exchange(other.lazy_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      label_(std::move(other.label_)),
      bindRc_(std::exchange(other.bindRc_, SQLITE_OK)),
      bindIndex_(other.bindIndex_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    lazy_ = std::exchange(other.lazy_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    label_ = std::move(other.label_);
    bindRc_ = std::exchange(other.bindRc_, SQLITE_OK);
    bindIndex_ = other.bindIndex_;
  }
  return *this;
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement& Statement::noteBind(int rc, int index) {
  if (rc != SQLITE_OK && bindRc_ == SQLITE_OK) {
    bindRc_ = rc;
    bindIndex_ = index;
  }
  return *this;
}

Statement& Statement::bindInt(int index, std::int64_t value) {
  return noteBind(sqlite3_bind_int64(stmt_, index, value), index);
}

Statement& Statement::bindDouble(int index, double value) {
  return noteBind(sqlite3_bind_double(stmt_, index, value), index);
}

Statement& Statement::bindText(int index, std::string_view value) {
  return noteBind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
}

Statement& Statement::bindBlob(int index, std::span<const std::uint8_t> value) {
  // A null data pointer would bind NULL; an empty blob is a zero-length blob, not NULL.
  if (value.empty()) return noteBind(sqlite3_bind_zeroblob(stmt_, index, 0), index);
  return noteBind(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT),
                  index);
}

Statement& Statement::bindNull(int index) {
  return noteBind(sqlite3_bind_null(stmt_, index), index);
}

Statement& Statement::bindTextOrNull(int index, std::string_view value) {
  return value.empty() ? bindNull(index) : bindText(index, value);
}

Statement& Statement::bindOptionalInt(int index, std::optional<std::int64_t> value) {
  return value ? bindInt(index, *value) : bindNull(index);
}

Result<void> LazyBegin::start() {
  pending = false;
  int rc = sqlite3_step(begin);
  sqlite3_reset(begin);
  if (rc != SQLITE_DONE) return storageError(sqlite3_db_handle(begin), rc, "begin transaction");
  return {};
}

Result<bool> Statement::step() {
  if (lazy_ != nullptr && lazy_->pending) {
    if (auto started = lazy_->start(); !started) return started.error();
  }
  if (bindRc_ != SQLITE_OK) {
    int rc = std::exchange(bindRc_, SQLITE_OK);
    return makeError(ErrorCode::kStorage, fmt::format("{}: cannot bind parameter {}: {} (SQLite "
                                                      "error {})",
                                                      label_, bindIndex_, sqlite3_errstr(rc), rc));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error error = storageError(sqlite3_db_handle(stmt_), rc, label_);
  sqlite3_reset(stmt_);
  return error;
}

Result<void> Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return row.error();
    if (!*row) break;
  }
  sqlite3_reset(stmt_);
  return {};
}

void Statement::reset() {
  if (stmt_ != nullptr) sqlite3_reset(stmt_);
  bindRc_ = SQLITE_OK;
}

bool Statement::columnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::columnInt(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::columnDouble(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string Statement::columnText(int column) const {
  return std::string(columnTextView(column));
}

std::string_view Statement::columnTextView(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return {text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::vector<std::uint8_t> Statement::columnBlob(int column) const {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
  if (data == nullptr) return {};
  return {data, data + sqlite3_column_bytes(stmt_, column)};
}

std::optional<std::int64_t> Statement::columnOptionalInt(int column) const {
  if (columnIsNull(column)) return std::nullopt;
  return columnInt(column);
}

// ---- Connection --------------------------------------------------------------------------------

Connection::Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

Result<Connection> Connection::open(const std::string& path, OpenMode mode) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case OpenMode::kReadWriteCreate:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case OpenMode::kReadWrite:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case OpenMode::kReadOnly:
      flags |= SQLITE_OPEN_READONLY;
      break;
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error = storageError(db, rc, fmt::format("cannot open database {}", path));
    sqlite3_close_v2(db);  // sqlite3_open_v2 returns a handle even on failure
    return error;
  }
  sqlite3_extended_result_codes(db, 1);
  Connection connection(db, path);
  struct Spec {
    Statement* target;
    const char* sql;
    const char* label;
  };
  // One savepoint name serves every nesting level: RELEASE and ROLLBACK TO act on the newest
  // savepoint of that name, and Transaction objects end in LIFO order.
  const Spec specs[] = {
      {&connection.begin_, "BEGIN IMMEDIATE", "begin transaction"},
      {&connection.commit_, "COMMIT", "commit transaction"},
      {&connection.rollback_, "ROLLBACK", "roll back transaction"},
      {&connection.savepoint_, "SAVEPOINT lwgate_nested", "begin nested transaction"},
      {&connection.release_, "RELEASE lwgate_nested", "commit nested transaction"},
      {&connection.rollbackTo_, "ROLLBACK TO lwgate_nested", "roll back nested transaction"},
  };
  for (const Spec& spec : specs) {
    auto stmt = connection.prepare(spec.sql, spec.label);
    if (!stmt) return stmt.error();
    *spec.target = std::move(*stmt);
  }
  connection.begin_.lazy_ = nullptr;  // it is what a lazy begin runs
  connection.lazy_->begin = connection.begin_.handle();
  return connection;
}

Connection::Connection(Connection&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      begin_(std::move(other.begin_)),
      commit_(std::move(other.commit_)),
      rollback_(std::move(other.rollback_)),
      savepoint_(std::move(other.savepoint_)),
      release_(std::move(other.release_)),
      rollbackTo_(std::move(other.rollbackTo_)),
      lazy_(std::exchange(other.lazy_, std::make_unique<LazyBegin>())) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    begin_ = std::move(other.begin_);
    commit_ = std::move(other.commit_);
    rollback_ = std::move(other.rollback_);
    savepoint_ = std::move(other.savepoint_);
    release_ = std::move(other.release_);
    rollbackTo_ = std::move(other.rollbackTo_);
    lazy_ = std::exchange(other.lazy_, std::make_unique<LazyBegin>());
  }
  return *this;
}

Connection::~Connection() {
  close();
}

void Connection::close() {
  if (db_ == nullptr) return;
  lazy_->pending = false;
  lazy_->begin = nullptr;
  begin_ = Statement();
  commit_ = Statement();
  rollback_ = Statement();
  savepoint_ = Statement();
  release_ = Statement();
  rollbackTo_ = Statement();
  // close_v2: if a store still holds prepared statements the handle becomes a zombie that is
  // freed with the last statement, instead of failing with SQLITE_BUSY and leaking.
  int rc = sqlite3_close_v2(db_);
  if (rc != SQLITE_OK) log::error("closing database {}: {}", path_, sqlite3_errstr(rc));
  db_ = nullptr;
}

Result<Statement> Connection::prepare(std::string_view sql, std::string label) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) return error(rc, fmt::format("{}: cannot prepare statement", label));
  Statement statement(stmt, std::move(label));
  statement.lazy_ = lazy_.get();
  if (stmt == nullptr || !onlySeparators(tail, sql.data() + sql.size())) {
    // A programming error, not a storage failure: exactly one statement per prepare().
    return makeError(ErrorCode::kInternal,
                     fmt::format("{}: expected exactly one SQL statement", statement.label()));
  }
  return statement;
}

Result<void> Connection::exec(const std::string& sql, std::string_view what) {
  if (lazy_->pending) {
    if (auto started = lazy_->start(); !started) return started.error();
  }
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(rc, what);
  return {};
}

Result<std::int64_t> Connection::queryInt(std::string_view sql, std::string_view what) {
  auto stmt = prepare(sql, std::string(what));
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return makeError(ErrorCode::kStorage, fmt::format("{}: no result", what));
  return stmt->columnInt(0);
}

Result<std::string> Connection::queryText(std::string_view sql, std::string_view what) {
  auto stmt = prepare(sql, std::string(what));
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return makeError(ErrorCode::kStorage, fmt::format("{}: no result", what));
  return stmt->columnText(0);
}

std::int64_t Connection::changes() const {
  return sqlite3_changes(db_);
}

std::int64_t Connection::lastInsertRowid() const {
  return sqlite3_last_insert_rowid(db_);
}

bool Connection::autocommit() const {
  return sqlite3_get_autocommit(db_) != 0 && !lazy_->pending;
}

// ---- Transaction -------------------------------------------------------------------------------

Result<Transaction> Transaction::begin(Connection& connection) {
  const bool nested = !connection.autocommit();
  auto r = nested ? connection.savepoint_.run() : connection.begin_.run();
  if (!r) return r.error();
  return Transaction(&connection, nested);
}

Transaction Transaction::beginLazy(Connection& connection) {
  if (!connection.autocommit()) {
    // Inside another transaction: a savepoint, at once (its statements would start the outer
    // one anyway).
    auto nested = begin(connection);
    if (nested) return std::move(*nested);
    return Transaction(nullptr, true, true);  // nothing to end; the statements report it
  }
  connection.lazy_->pending = true;
  return Transaction(&connection, false, true);
}

Transaction::Transaction(Transaction&& other) noexcept
    : connection_(std::exchange(other.connection_, nullptr)),
      nested_(other.nested_),
      lazy_(other.lazy_) {}

Transaction::~Transaction() {
  rollback();
}

Result<void> Transaction::commit() {
  if (connection_ == nullptr) {
    if (lazy_) return {};  // beginLazy() inside a transaction whose savepoint failed
    return makeError(ErrorCode::kInternal, "commit of a transaction that already ended");
  }
  if (lazy_ && connection_->lazy_->pending) {  // no statement ran: nothing to commit
    connection_->lazy_->pending = false;
    connection_ = nullptr;
    return {};
  }
  if (lazy_ && connection_->autocommit()) {  // its BEGIN failed; the statements ran alone
    connection_ = nullptr;
    return {};
  }
  auto r = nested_ ? connection_->release_.run() : connection_->commit_.run();
  if (!r) {
    // COMMIT can fail and leave the transaction open (SQLITE_BUSY): end it so the caller's
    // "error means nothing changed" holds.
    rollback();
    return r.error();
  }
  connection_ = nullptr;
  return {};
}

void Transaction::rollback() {
  Connection* connection = std::exchange(connection_, nullptr);
  if (connection == nullptr) return;
  if (lazy_ && connection->lazy_->pending) {
    connection->lazy_->pending = false;
    return;
  }
  // Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM, ...) roll the whole transaction back
  // themselves, savepoints included; then there is nothing left to undo.
  if (connection->autocommit()) return;
  if (nested_) {
    // ROLLBACK TO undoes the savepoint's changes but keeps it open; RELEASE then ends it.
    auto r = connection->rollbackTo_.run();
    if (r) r = connection->release_.run();
    if (!r) log::error("{}", r.error().message);
    return;
  }
  auto r = connection->rollback_.run();
  if (!r) log::error("{}", r.error().message);
}

// ---- Backup and integrity ----------------------------------------------------------------------

Result<void> backupDatabase(Connection& source, const std::string& destPath) {
  const std::string tmpPath = destPath + ".tmp";
  // Leftovers of an interrupted earlier attempt.
  for (const auto& stale : {tmpPath, tmpPath + "-journal", tmpPath + "-wal", tmpPath + "-shm"}) {
    if (auto r = removeIfExists(stale); !r) return r.error();
  }
  int fd = ::open(tmpPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return posixError("cannot create backup", tmpPath, errno);
  ::close(fd);

  {
    auto dest = Connection::open(tmpPath, OpenMode::kReadWrite);
    if (!dest) return dest.error();
    sqlite3_backup* backup = sqlite3_backup_init(dest->handle(), "main", source.handle(), "main");
    if (backup == nullptr) {
      return dest->error(sqlite3_errcode(dest->handle()),
                         fmt::format("backing up {} to {}", source.path(), tmpPath));
    }
    // One step copies everything under one read snapshot of the source.
    int rc = sqlite3_backup_step(backup, -1);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
      Error error = dest->error(rc, fmt::format("backing up {} to {}", source.path(), tmpPath));
      (void)removeIfExists(tmpPath);
      return error;
    }
    // The copy carries the source's WAL flag; a backup is a single file people copy around, so
    // make it a self-contained rollback-journal database.
    if (auto r = dest->exec("PRAGMA journal_mode=DELETE", "setting backup journal mode"); !r) {
      return r.error();
    }
  }

  if (auto r = fsyncPath(tmpPath, O_RDONLY); !r) return r.error();
  if (::rename(tmpPath.c_str(), destPath.c_str()) != 0) {
    return posixError("cannot rename backup to", destPath, errno);
  }
  // The rename must reach the disk before the migration changes the original.
  return fsyncPath(parentDirectory(destPath), O_RDONLY | O_DIRECTORY);
}

Result<void> checkIntegrity(Connection& connection) {
  constexpr std::size_t kMaxReported = 10;
  std::vector<std::string> problems;
  {
    auto stmt = connection.prepare("PRAGMA integrity_check", "integrity check");
    if (!stmt) return stmt.error();
    for (;;) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      std::string line = stmt->columnText(0);
      if (line != "ok" && problems.size() < kMaxReported) problems.push_back(std::move(line));
    }
  }
  {
    auto stmt = connection.prepare("PRAGMA foreign_key_check", "foreign key check");
    if (!stmt) return stmt.error();
    for (;;) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      if (problems.size() < kMaxReported) {
        problems.push_back(fmt::format("{} row {} references a missing row of {}",
                                       stmt->columnText(0), stmt->columnInt(1),
                                       stmt->columnText(2)));
      }
    }
  }
  if (problems.empty()) return {};
  return makeError(ErrorCode::kStorage, fmt::format("database {} failed the integrity check: {}",
                                                    connection.path(), fmt::join(problems, "; ")));
}

}  // namespace lwgate::db
