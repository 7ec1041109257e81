#pragma once
// Runs WAL checkpoints on a thread of their own, off the event loop.
//
// Why a second thread (DESIGN.md allows one where a benchmark proves the need): with SQLite's
// automatic checkpoint the connection that commits also copies the WAL back into the database and
// fsyncs it, every ~1000 pages. On the main loop that stalled every registration behind it for
// milliseconds (bench/run-register-bench.sh: p90 11 ms at 32 in flight, the loop blocked about a
// third of the time). Here the writer only appends to the WAL; its wal_hook wakes this thread
// when the WAL has grown past a threshold, and the thread runs a PASSIVE checkpoint on its own
// connection, which never blocks the writer (https://sqlite.org/wal.html#checkpointing).
//
// Under sustained writes a PASSIVE checkpoint never quite catches up with the end of the log, so
// the log does not start over and keeps growing. Past hardLimitPages the writer itself runs a
// RESTART checkpoint from its commit hook (a stall, but only under sustained overload; with group
// commit the benchmark never reaches it) and journal_size_limit truncates the file afterwards. A
// FULL checkpoint from the thread was tried first: it held the writer back through the fsync
// and cost 100+ ms stalls.

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "db/sqlite.h"
#include "gateway/util/result.h"

namespace lwgate::db {

class Checkpointer {
 public:
  // Takes over checkpointing for `writer` (its automatic checkpoint is replaced). The writer
  // must outlive the Checkpointer.
  static Result<std::unique_ptr<Checkpointer>> start(Connection& writer, int thresholdPages = 1000,
                                                     int hardLimitPages = 10000);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  std::uint64_t checkpoints() const;

 private:
  Checkpointer(Connection& writer, Connection own, int thresholdPages, int hardLimitPages);
  static int onCommit(void* self, sqlite3* db, const char* schema, int walPages);
  static int onBusy(void* unused, int attempts);
  void run();

  Connection& writer_;
  Connection own_;  // used only by the thread
  const int thresholdPages_;
  const int hardLimitPages_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  // Set by the writer's commit hook, cleared by the thread; atomic so that commits while a
  // checkpoint is already due cost no lock and no wake-up.
  std::atomic<bool> due_{false};
  bool stopping_ = false;
  std::uint64_t checkpoints_ = 0;
  std::thread thread_;
};

}  // namespace lwgate::db
