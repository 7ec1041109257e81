// The RAII layer: statements, bind/column helpers, transactions, error mapping, backup.
#include "db/sqlite.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/unit/db/test_support.h"

namespace lwgate::db {
namespace {

using testing::execOk;
using ::testing::HasSubstr;
using testing::queryInt;
using testing::rawOpen;
using testing::TempDir;

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    execOk(conn,
           "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, d REAL, s TEXT UNIQUE, b BLOB)");
  }

  std::int64_t rows() { return queryInt(conn, "SELECT count(*) FROM t"); }

  TempDir dir;
  Connection conn = rawOpen(dir.file("t.db"));
};

TEST_F(SqliteTest, BindsAndReadsEveryType) {
  auto insert = conn.prepare("INSERT INTO t (i, d, s, b) VALUES (?1, ?2, ?3, ?4)", "insert");
  ASSERT_TRUE(insert.ok()) << insert.error().message;
  const std::vector<std::uint8_t> blob = {0, 1, 2, 0xff};
  ASSERT_TRUE(insert->bindInt(1, -(std::int64_t{1} << 40))
                  .bindDouble(2, 2.5)
                  .bindText(3, std::string("text with \0 inside", 18))
                  .bindBlob(4, blob)
                  .run()
                  .ok());
  // Empty blob is a zero-length blob, empty optional text is NULL.
  ASSERT_TRUE(insert->bindOptionalInt(1, std::nullopt)
                  .bindNull(2)
                  .bindTextOrNull(3, "")
                  .bindBlob(4, {})
                  .run()
                  .ok());

  auto select =
      conn.prepare("SELECT i, d, s, b, typeof(b), typeof(s) FROM t ORDER BY id", "select");
  ASSERT_TRUE(select.ok());
  auto row = select->step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(select->columnInt(0), -(std::int64_t{1} << 40));
  EXPECT_EQ(select->columnDouble(1), 2.5);
  EXPECT_EQ(select->columnText(2), std::string("text with \0 inside", 18));
  EXPECT_EQ(select->columnBlob(3), blob);
  EXPECT_EQ(select->columnOptionalInt(0), -(std::int64_t{1} << 40));

  row = select->step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_TRUE(select->columnIsNull(0));
  EXPECT_EQ(select->columnOptionalInt(0), std::nullopt);
  EXPECT_TRUE(select->columnIsNull(1));
  EXPECT_EQ(select->columnText(2), "");
  EXPECT_TRUE(select->columnBlob(3).empty());
  EXPECT_EQ(select->columnText(4), "blob");
  EXPECT_EQ(select->columnText(5), "null");

  row = select->step();
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(*row);
}

TEST_F(SqliteTest, TemporariesMayBeBound) {
  // Text is copied at bind time, so binding a temporary and stepping later is safe.
  auto insert = conn.prepare("INSERT INTO t (s) VALUES (?1)", "insert");
  ASSERT_TRUE(insert.ok());
  insert->bindText(1, std::string(100, 'x') + "end");
  ASSERT_TRUE(insert->run().ok());
  EXPECT_EQ(testing::queryText(conn, "SELECT s FROM t"), std::string(100, 'x') + "end");
}

TEST_F(SqliteTest, PrepareErrorsSayWhatAndWhy) {
  auto bad = conn.prepare("SELECT nope FROM t", "count the nopes");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kStorage);
  EXPECT_THAT(bad.error().message, HasSubstr("count the nopes"));
  EXPECT_THAT(bad.error().message, HasSubstr("no such column: nope"));
  EXPECT_THAT(bad.error().message, HasSubstr("SQLite error 1"));
}

TEST_F(SqliteTest, PrepareRefusesMoreThanOneStatement) {
  auto two = conn.prepare("SELECT 1; SELECT 2", "two");
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.error().code, ErrorCode::kInternal);
  EXPECT_TRUE(conn.prepare("SELECT 1;  \n", "one with trailing separator").ok());
  EXPECT_FALSE(conn.prepare("  ", "none").ok());
}

TEST_F(SqliteTest, BindErrorIsReportedByStepAndThenForgotten) {
  auto insert = conn.prepare("INSERT INTO t (i) VALUES (?1)", "insert i");
  ASSERT_TRUE(insert.ok());
  auto r = insert->bindInt(1, 1).bindInt(7, 2).run();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("insert i: cannot bind parameter 7"));
  EXPECT_EQ(rows(), 0);
  // The statement is usable again.
  EXPECT_TRUE(insert->bindInt(1, 1).run().ok());
  EXPECT_EQ(rows(), 1);
}

TEST_F(SqliteTest, ConstraintViolationIsStorageErrorAndStatementStaysUsable) {
  auto insert = conn.prepare("INSERT INTO t (s) VALUES (?1)", "insert s");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->bindText(1, "a").run().ok());
  auto dup = insert->bindText(1, "a").run();
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kStorage);
  EXPECT_THAT(dup.error().message, HasSubstr("insert s: UNIQUE constraint failed: t.s"));
  // Extended result codes are on: SQLITE_CONSTRAINT_UNIQUE, not plain SQLITE_CONSTRAINT.
  EXPECT_THAT(dup.error().message, HasSubstr("SQLite error 2067"));
  EXPECT_TRUE(insert->bindText(1, "b").run().ok());
  EXPECT_EQ(rows(), 2);
}

TEST_F(SqliteTest, ChangesAndLastInsertRowid) {
  auto insert = conn.prepare("INSERT INTO t (i) VALUES (?1)", "insert");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->bindInt(1, 5).run().ok());
  EXPECT_EQ(conn.lastInsertRowid(), 1);
  ASSERT_TRUE(insert->bindInt(1, 5).run().ok());
  EXPECT_EQ(conn.lastInsertRowid(), 2);
  auto update = conn.prepare("UPDATE t SET i = 6 WHERE i = ?1", "update");
  ASSERT_TRUE(update.ok());
  ASSERT_TRUE(update->bindInt(1, 5).run().ok());
  EXPECT_EQ(conn.changes(), 2);
  ASSERT_TRUE(update->bindInt(1, 5).run().ok());
  EXPECT_EQ(conn.changes(), 0);
}

TEST_F(SqliteTest, ScopedResetEndsAHalfReadQuery) {
  execOk(conn, "INSERT INTO t (i) VALUES (1), (2)");
  auto select = conn.prepare("SELECT i FROM t", "select");
  ASSERT_TRUE(select.ok());
  {
    ScopedReset reset(*select);
    ASSERT_TRUE(*select->step());
    EXPECT_TRUE(sqlite3_stmt_busy(select->handle()));
  }
  EXPECT_FALSE(sqlite3_stmt_busy(select->handle()));
}

TEST_F(SqliteTest, MovedStatementAndConnectionKeepWorking) {
  auto prepared = conn.prepare("SELECT 42", "answer");
  ASSERT_TRUE(prepared.ok());
  Statement a = std::move(*prepared);
  Statement b;
  EXPECT_FALSE(b.valid());
  b = std::move(a);
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from state is defined
  ASSERT_TRUE(*b.step());
  EXPECT_EQ(b.columnInt(0), 42);
  b.reset();

  Connection moved = std::move(conn);
  EXPECT_EQ(moved.handle() != nullptr, true);
  EXPECT_EQ(queryInt(moved, "SELECT count(*) FROM t"), 0);
  auto tx = Transaction::begin(moved);
  ASSERT_TRUE(tx.ok()) << tx.error().message;
  EXPECT_TRUE(tx->commit().ok());
}

TEST_F(SqliteTest, CommittedTransactionPersists) {
  {
    auto tx = Transaction::begin(conn);
    ASSERT_TRUE(tx.ok());
    EXPECT_FALSE(conn.autocommit());
    execOk(conn, "INSERT INTO t (i) VALUES (1)");
    ASSERT_TRUE(tx->commit().ok());
    EXPECT_TRUE(conn.autocommit());
  }
  Connection other = rawOpen(dir.file("t.db"), OpenMode::kReadOnly);
  EXPECT_EQ(queryInt(other, "SELECT count(*) FROM t"), 1);
}

TEST_F(SqliteTest, TransactionNotCommittedRollsBack) {
  // An early return in the middle of a multi-statement change: nothing of it stays.
  auto change = [&]() -> Result<void> {
    auto tx = Transaction::begin(conn);
    if (!tx) return tx.error();
    if (auto r = conn.exec("INSERT INTO t (s) VALUES ('first')", "first"); !r) return r.error();
    if (auto r = conn.exec("INSERT INTO t (s) VALUES ('first')", "duplicate"); !r) {
      return r.error();
    }
    return tx->commit();
  };
  auto r = change();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("duplicate: UNIQUE constraint failed"));
  EXPECT_TRUE(conn.autocommit());
  EXPECT_EQ(rows(), 0);
}

TEST_F(SqliteTest, ExplicitRollbackAndDoubleCommit) {
  auto tx = Transaction::begin(conn);
  ASSERT_TRUE(tx.ok());
  execOk(conn, "INSERT INTO t (i) VALUES (1)");
  tx->rollback();
  tx->rollback();  // idempotent
  EXPECT_EQ(rows(), 0);
  auto late = tx->commit();
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kInternal);

  auto moved = Transaction::begin(conn);
  ASSERT_TRUE(moved.ok());
  Transaction owner = std::move(*moved);
  execOk(conn, "INSERT INTO t (i) VALUES (2)");
  ASSERT_TRUE(owner.commit().ok());
  EXPECT_EQ(rows(), 1);
}

TEST_F(SqliteTest, NestedTransactionBecomesDurableOnlyWithTheOuterOne) {
  {
    auto outer = Transaction::begin(conn);
    ASSERT_TRUE(outer.ok());
    execOk(conn, "INSERT INTO t (s) VALUES ('outer')");
    {
      auto inner = Transaction::begin(conn);
      ASSERT_TRUE(inner.ok()) << inner.error().message;
      execOk(conn, "INSERT INTO t (s) VALUES ('inner')");
      ASSERT_TRUE(inner->commit().ok());
    }
    EXPECT_FALSE(conn.autocommit());  // the outer one is still open
    // Another connection sees nothing yet.
    Connection other = rawOpen(dir.file("t.db"), OpenMode::kReadOnly);
    EXPECT_EQ(queryInt(other, "SELECT count(*) FROM t"), 0);
  }  // outer rolled back: the committed inner change goes with it
  EXPECT_TRUE(conn.autocommit());
  EXPECT_EQ(rows(), 0);
}

TEST_F(SqliteTest, NestedRollbackUndoesOnlyItsOwnChanges) {
  auto outer = Transaction::begin(conn);
  ASSERT_TRUE(outer.ok());
  execOk(conn, "INSERT INTO t (s) VALUES ('kept')");
  for (int i = 0; i < 2; ++i) {  // twice: the savepoint is really gone after a rollback
    auto inner = Transaction::begin(conn);
    ASSERT_TRUE(inner.ok());
    execOk(conn, "INSERT INTO t (s) VALUES ('dropped')");
    // Destroyed without commit.
  }
  {
    auto inner = Transaction::begin(conn);
    ASSERT_TRUE(inner.ok());
    execOk(conn, "INSERT INTO t (s) VALUES ('inner kept')");
    ASSERT_TRUE(inner->commit().ok());
  }
  ASSERT_TRUE(outer->commit().ok());
  EXPECT_EQ(rows(), 2);
  EXPECT_EQ(queryInt(conn, "SELECT count(*) FROM t WHERE s = 'dropped'"), 0);
}

TEST_F(SqliteTest, ErrorThatEndsTheWholeTransactionLeavesNothingToRollBack) {
  auto outer = Transaction::begin(conn);
  ASSERT_TRUE(outer.ok());
  auto inner = Transaction::begin(conn);
  ASSERT_TRUE(inner.ok());
  execOk(conn, "INSERT INTO t (s) VALUES ('x')");
  // What SQLITE_FULL or SQLITE_IOERR do on their own: roll everything back.
  execOk(conn, "ROLLBACK");
  inner->rollback();
  EXPECT_FALSE(outer->commit().ok());
  EXPECT_TRUE(conn.autocommit());
  EXPECT_EQ(rows(), 0);
}

TEST_F(SqliteTest, BeginFailsWhenAnotherConnectionWrites) {
  // busy_timeout is 0 on a raw connection: the lock conflict shows at once, no sleeping.
  Connection other = rawOpen(dir.file("t.db"));
  auto held = Transaction::begin(other);
  ASSERT_TRUE(held.ok());
  auto tx = Transaction::begin(conn);
  ASSERT_FALSE(tx.ok());
  EXPECT_EQ(tx.error().code, ErrorCode::kStorage);
  EXPECT_THAT(tx.error().message, HasSubstr("database is locked"));
  held->rollback();
  EXPECT_TRUE(Transaction::begin(conn).ok());
}

TEST_F(SqliteTest, LazyTransactionTakesNoLockUntilItsFirstStatement) {
  Connection other = rawOpen(dir.file("t.db"));
  {
    // Nothing ran: no lock was taken (another connection can write meanwhile), and the commit
    // has nothing to do.
    auto lazy = Transaction::beginLazy(conn);
    EXPECT_FALSE(conn.autocommit()) << "logically open";
    auto held = Transaction::begin(other);
    ASSERT_TRUE(held.ok()) << held.error().message;
    held->rollback();
    EXPECT_TRUE(lazy.commit().ok());
    EXPECT_TRUE(conn.autocommit());
  }
  {
    // The first statement begins it: its changes and a nested transaction's commit together,
    // and the lock is held until then.
    auto lazy = Transaction::beginLazy(conn);
    execOk(conn, "INSERT INTO t (i) VALUES (1)");
    EXPECT_FALSE(Transaction::begin(other).ok()) << "the write lock is held";
    auto nested = Transaction::begin(conn);
    ASSERT_TRUE(nested.ok());
    auto insert = conn.prepare("INSERT INTO t (i) VALUES (2)", "insert");
    ASSERT_TRUE(insert.ok());
    ASSERT_TRUE(insert->run().ok());
    ASSERT_TRUE(nested->commit().ok());
    EXPECT_EQ(queryInt(other, "SELECT count(*) FROM t"), 0) << "not committed yet";
    ASSERT_TRUE(lazy.commit().ok());
    EXPECT_EQ(queryInt(other, "SELECT count(*) FROM t"), 2);
  }
  {
    // Not committed: rolled back like any other.
    auto lazy = Transaction::beginLazy(conn);
    auto insert = conn.prepare("INSERT INTO t (i) VALUES (3)", "insert");
    ASSERT_TRUE(insert.ok());
    ASSERT_TRUE(insert->run().ok());
  }
  EXPECT_TRUE(conn.autocommit());
  EXPECT_EQ(rows(), 2);
  {
    // Its BEGIN fails (another connection writes): the statement that needed it fails with
    // that error, later ones run on their own, and the commit has nothing left to do.
    auto held = Transaction::begin(other);
    ASSERT_TRUE(held.ok());
    auto lazy = Transaction::beginLazy(conn);
    auto insert = conn.prepare("INSERT INTO t (i) VALUES (4)", "insert");
    ASSERT_TRUE(insert.ok());
    auto r = insert->run();
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error().message, HasSubstr("begin transaction: database is locked"));
    held->rollback();
    ASSERT_TRUE(insert->run().ok());
    EXPECT_TRUE(lazy.commit().ok());
    EXPECT_TRUE(conn.autocommit());
    EXPECT_EQ(queryInt(other, "SELECT count(*) FROM t"), 3);
  }
}

TEST_F(SqliteTest, OpenMissingFileReadOnlyFails) {
  auto c = Connection::open(dir.file("missing.db"), OpenMode::kReadWrite);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kStorage);
  EXPECT_THAT(c.error().message, HasSubstr("cannot open database " + dir.file("missing.db")));
  EXPECT_FALSE(testing::exists(dir.file("missing.db")));
}

TEST_F(SqliteTest, BackupCopiesASnapshotAtomicallyWithMode0600) {
  execOk(conn, "PRAGMA journal_mode=WAL; INSERT INTO t (i, s) VALUES (1, 'one'), (2, 'two')");
  const std::string backup = dir.file("copy.bak");
  testing::writeFile(backup, "an older backup that gets replaced");
  auto r = backupDatabase(conn, backup);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(testing::fileMode(backup), 0600u);
  EXPECT_FALSE(testing::exists(backup + ".tmp"));

  // Writes after the backup do not reach it.
  execOk(conn, "INSERT INTO t (i) VALUES (3)");
  Connection copy = rawOpen(backup, OpenMode::kReadOnly);
  EXPECT_EQ(queryInt(copy, "SELECT count(*) FROM t"), 2);
  EXPECT_EQ(testing::queryText(copy, "SELECT s FROM t WHERE i = 2"), "two");
  // A self-contained single file, not a WAL database needing its -wal and -shm.
  EXPECT_EQ(testing::queryText(copy, "PRAGMA journal_mode"), "delete");
  EXPECT_TRUE(checkIntegrity(copy).ok());
}

TEST_F(SqliteTest, BackupIntoMissingDirectoryFails) {
  auto r = backupDatabase(conn, dir.file("no/such/dir/copy.bak"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kStorage);
  EXPECT_THAT(r.error().message, HasSubstr("cannot create backup"));
}

TEST_F(SqliteTest, IntegrityCheckFindsForeignKeyViolations) {
  EXPECT_TRUE(checkIntegrity(conn).ok());
  execOk(conn,
         "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
         "CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id));"
         "INSERT INTO child (p) VALUES (99);");  // foreign_keys is off on a raw connection
  auto r = checkIntegrity(conn);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kStorage);
  EXPECT_THAT(r.error().message, HasSubstr("child row 1 references a missing row of parent"));
}

}  // namespace
}  // namespace lwgate::db
