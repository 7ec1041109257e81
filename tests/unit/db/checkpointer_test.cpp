#include "db/checkpointer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "db/database.h"
#include "tests/unit/db/test_support.h"

namespace lwgate::db {
namespace {

// The commit hook wakes the thread once the WAL passes the threshold, and the thread's PASSIVE
// checkpoint copies the WAL back so the log starts over instead of growing.
TEST(Checkpointer, CheckpointsOnItsOwnThreadOnceTheWalIsLarge) {
  testing::TempDir dir;
  auto db = openDatabase(dir.file("c.db"));
  ASSERT_TRUE(db.ok()) << db.error().message;
  Connection& c = db->connection();
  auto cp = Checkpointer::start(c, /*thresholdPages=*/8, /*hardLimitPages=*/64);
  ASSERT_TRUE(cp.ok()) << cp.error().message;
  ASSERT_TRUE(c.exec("CREATE TABLE t(x BLOB)", "create").ok());
  auto insert = c.prepare("INSERT INTO t VALUES (zeroblob(3000))", "insert");
  ASSERT_TRUE(insert.ok());
  // Each commit appends about one page; 40 pass the threshold of 8 several times over.
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(insert->run().ok());
  // Then wait (bounded) for the thread: a condition, not a fixed sleep.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*cp)->checkpoints() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT((*cp)->checkpoints(), 0u);
  // After a complete checkpoint the next commit starts the WAL over from its beginning.
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(insert->run().ok());
  // Sustained writes: the WAL was recycled and truncated, it stays far smaller than the
  // 2000 pages written through it (without the RESTART step it held them all).
  const auto walSize = std::filesystem::file_size(dir.file("c.db") + "-wal");
  EXPECT_LT(walSize, 400u * 4096u);
  cp->reset();  // stops the thread and gives checkpointing back to the writer
  EXPECT_TRUE(db->checkIntegrity().ok());
}

TEST(Checkpointer, BelowTheThresholdNothingRuns) {
  testing::TempDir dir;
  auto db = openDatabase(dir.file("c.db"));
  ASSERT_TRUE(db.ok());
  auto cp = Checkpointer::start(db->connection(), /*thresholdPages=*/100000);
  ASSERT_TRUE(cp.ok());
  ASSERT_TRUE(db->connection().exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)", "x").ok());
  EXPECT_EQ((*cp)->checkpoints(), 0u);
}

}  // namespace
}  // namespace lwgate::db
