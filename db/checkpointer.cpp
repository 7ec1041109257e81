#include "db/checkpointer.h"

#include "gateway/util/log.h"

namespace lwgate::db {

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(Connection& writer, int thresholdPages,
                                                          int hardLimitPages) {
  // The thread's own connection: SQLite connections are opened NOMUTEX and used by one thread.
  auto own = Connection::open(writer.path(), OpenMode::kReadWrite);
  if (!own) return own.error();
  sqlite3_busy_timeout(own->handle(), 5000);
  // A connection learns that the file is in WAL mode only when it first reads it; before that
  // a checkpoint on it silently does nothing.
  auto mode = own->queryText("PRAGMA journal_mode", "reading the journal mode");
  if (!mode) return mode.error();
  if (*mode != "wal") {
    return makeError(ErrorCode::kStorage, "checkpointer: database " + writer.path() +
                                              " is not in WAL mode (" + *mode + ")");
  }
  auto pageSize = writer.queryInt("PRAGMA page_size", "reading the page size");
  if (!pageSize) return pageSize.error();
  if (auto r =
          writer.exec("PRAGMA journal_size_limit=" +
                          std::to_string(*pageSize * static_cast<std::int64_t>(hardLimitPages)),
                      "limiting the WAL file size");
      !r) {
    return r.error();
  }
  std::unique_ptr<Checkpointer> self(
      new Checkpointer(writer, std::move(*own), thresholdPages, hardLimitPages));
  // The writer waits for the thread's FULL checkpoint in short steps: the default busy handler
  // sleeps 1, 2, 5, 10, 15, 20, 25 ms..., which turned a 2 ms checkpoint into a 75 ms stall.
  sqlite3_busy_handler(writer.handle(), &Checkpointer::onBusy, nullptr);
  // Replaces the automatic checkpoint (which is itself a wal_hook).
  sqlite3_wal_hook(writer.handle(), &Checkpointer::onCommit, self.get());
  self->thread_ = std::thread([p = self.get()] { p->run(); });
  return self;
}

Checkpointer::Checkpointer(Connection& writer, Connection own, int thresholdPages,
                           int hardLimitPages)
    : writer_(writer),
      own_(std::move(own)),
      thresholdPages_(thresholdPages),
      hardLimitPages_(hardLimitPages) {}

Checkpointer::~Checkpointer() {
  // Give checkpointing back to the writer before the thread goes: the final checkpoint happens
  // when the writer closes.
  sqlite3_wal_autocheckpoint(writer_.handle(), 1000);
  sqlite3_busy_timeout(writer_.handle(), 5000);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t Checkpointer::checkpoints() const {
  std::lock_guard lock(mutex_);
  return checkpoints_;
}

int Checkpointer::onBusy(void*, int attempts) {
  constexpr int kStepMicros = 100;
  constexpr int kMaxAttempts = 5'000'000 / kStepMicros;  // 5 s, as the busy_timeout it replaces
  if (attempts >= kMaxAttempts) return 0;
  std::this_thread::sleep_for(std::chrono::microseconds(kStepMicros));
  return 1;
}

int Checkpointer::onCommit(void* p, sqlite3* db, const char* schema, int walPages) {
  auto* self = static_cast<Checkpointer*>(p);
  if (walPages >= self->hardLimitPages_) {
    // Calling a checkpoint from the hook is what SQLite's own automatic checkpoint does. RESTART
    // finishes the copy and lets the next commit start the log over. While the thread's own
    // checkpoint runs it answers SQLITE_BUSY at once (the checkpoint lock takes no busy
    // handler), so wait for that one in short steps, bounded like the busy timeout.
    for (int attempt = 0; attempt < 50'000; ++attempt) {
      if (sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr) !=
          SQLITE_BUSY) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return SQLITE_OK;
  }
  if (walPages >= self->thresholdPages_ && !self->due_.exchange(true)) {
    // Taking the mutex orders this with the thread's check-then-wait, so no wake-up is lost.
    { std::lock_guard lock(self->mutex_); }
    self->wake_.notify_one();
  }
  return SQLITE_OK;
}

void Checkpointer::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return due_.load() || stopping_; });
    if (stopping_) return;
    lock.unlock();
    int walFrames = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(own_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                       &walFrames, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      log::warning(
          "LWG1095 database checkpoint failed, the WAL file keeps growing until one "
          "succeeds: {}",
          own_.error(rc, "checkpointing the WAL").message);
    }
    due_ = false;  // after the checkpoint: commits meanwhile needed no new one
    lock.lock();
    ++checkpoints_;
  }
}

}  // namespace lwgate::db
