// The checkpointer: copies committed pages from the write-ahead log into the database file
// so that the log can start over (see CheckpointPolicy and Store's private part).
#include "storage/store.hpp"

#include <sqlite3.h>

#include <SQLiteCpp/Exception.h>

#include "core/log.hpp"
#include "storage/database.hpp"

namespace smsr {

namespace {

// Copies committed pages from the log into the database file (PASSIVE: never blocks the
// writer or readers). Sets `log_pages` to the log's length when the copy began; returns
// whether all of those were copied: not when the writer is finishing a checkpoint
// (SQLITE_BUSY), or when a reader still reads some (and the writer could not copy them
// either).
bool copy_log(Connection& conn, int& log_pages) {
  int copied = 0;
  int rc = sqlite3_wal_checkpoint_v2(conn.db().getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                     &log_pages, &copied);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) throw SQLite::Exception(conn.db().getHandle(), rc);
  return rc == SQLITE_OK && copied == log_pages;
}

}  // namespace

void Store::checkpoint_loop() {
  std::unique_ptr<Connection> conn;
  std::unique_lock lock(queue_mu_);
  for (;;) {
    checkpoint_cv_.wait_for(lock, std::chrono::seconds(1),
                            [&] { return stopping_ || checkpoint_step_ == CheckpointStep::kCopy; });
    const bool stopping = stopping_;
    checkpoint_step_ = CheckpointStep::kCopy;
    lock.unlock();
    bool finish = false;
    try {
      if (!conn) conn = std::make_unique<Connection>(path_, Connection::Mode::kCheckpointer);
      int log_pages = 0;
      bool all_copied = copy_log(*conn, log_pages);
      // The writer's part holds up writes for as long as it copies. So first copy, a few
      // times over, what was committed during the copy before: each pass is shorter, and
      // so is what is left for the writer (measured: a few hundred pages, mostly 2 to 5 ms).
      constexpr int kCatchUpCopies = 4;
      const auto long_log = [&] { return log_pages >= checkpoints_.restart_after; };
      for (int i = 0; i < kCatchUpCopies && all_copied && long_log(); ++i) {
        all_copied = copy_log(*conn, log_pages);
      }
      finish = all_copied && long_log();
    } catch (const std::exception& e) {
      // Not fatal: the WAL grows until the next checkpoint succeeds; writes still work.
      LOG_WARN("store.checkpoint_failed", {"error", e.what()});
      conn.reset();
    }
    if (stopping) return;
    lock.lock();
    checkpoint_step_ = finish ? CheckpointStep::kFinish : CheckpointStep::kNone;
  }
}

void Store::log_grew(int pages) {
  if (pages < log_pages_at_copy_) log_pages_at_copy_ = 0;  // the log started over
  if (pages - log_pages_at_copy_ < checkpoints_.copy_after) return;
  log_pages_at_copy_ = pages;
  {
    std::lock_guard lock(queue_mu_);
    if (checkpoint_step_ != CheckpointStep::kNone) return;
    checkpoint_step_ = CheckpointStep::kCopy;
  }
  checkpoint_cv_.notify_one();
}

// Only the writer appends to the log, so a checkpoint here copies every committed page (that
// no reader still reads), and the next write starts the log over. The checkpointer has
// copied the bulk already.
void Store::finish_checkpoint() {
  {
    std::lock_guard lock(queue_mu_);
    if (checkpoint_step_ != CheckpointStep::kFinish) return;
    checkpoint_step_ = CheckpointStep::kNone;
  }
  int rc = sqlite3_wal_checkpoint_v2(writer_conn_->db().getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                     nullptr, nullptr);
  // SQLITE_BUSY: the checkpointer started again (its timer); the next long log tries again.
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    LOG_WARN("store.checkpoint_failed", {"error", sqlite3_errstr(rc)});
  }
}

}  // namespace smsr
