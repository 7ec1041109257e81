#include "db/checkpointer.h"

#include "gateway/util/log.h"

namespace lwgate::db {

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(Connection& writer, int thresholdPages,
                                                          int hardLimitPages) {
  // The thread's own connection: SQLite connections are opened NOMUTEX and used by one thread.
  auto own = Connection::open(writer.path(), OpenMode::kReadWrite);
  if (!own) return own.error();
  sqlite3_busy_timeout(own->handle(), 5000);
  auto pageSize = writer.queryInt("PRAGMA page_size", "reading the page size");
  if (!pageSize) return pageSize.error();
  if (auto r = writer.exec("PRAGMA journal_size_limit=" +
                               std::to_string(*pageSize * static_cast<std::int64_t>(hardLimitPages)),
                           "limiting the WAL file size");
      !r) {
    return r.error();
  }
  std::unique_ptr<Checkpointer> self(
      new Checkpointer(writer, std::move(*own), thresholdPages, hardLimitPages));
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

int Checkpointer::onCommit(void* p, sqlite3* db, const char* schema, int walPages) {
  auto* self = static_cast<Checkpointer*>(p);
  if (walPages >= self->hardLimitPages_) {
    // Calling a checkpoint from the hook is what SQLite's own automatic checkpoint does.
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
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
      log::warning("LWG1095 database checkpoint failed, the WAL file keeps growing until one "
                   "succeeds: {}", own_.error(rc, "checkpointing the WAL").message);
    }
    due_ = false;  // after the checkpoint: commits meanwhile needed no new one
    lock.lock();
    ++checkpoints_;
  }
}

}  // namespace lwgate::db
