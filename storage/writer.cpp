// The group-commit writer and the notifier: every write runs on one thread, batched into one
// transaction per commit; another thread wakes the callers of a finished batch.
#include "storage/store.hpp"

#include <algorithm>

#include <SQLiteCpp/Exception.h>

#include "core/log.hpp"
#include "storage/database.hpp"
#include "storage/store_internal.hpp"

namespace smsr {

namespace {

// What rethrow_as_store_error(e, context) throws, as an exception_ptr.
std::exception_ptr store_error_ptr(const std::exception& e, const std::string& context) {
  try {
    rethrow_as_store_error(e, context);
  } catch (...) {
    return std::current_exception();
  }
}

// SQLite's exceptions become StoreError; anything else a write throws reaches its caller
// unchanged (whatever its type, so nothing can escape the writer thread).
std::exception_ptr translate_sqlite_error(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const SQLite::Exception& e) {
    return store_error_ptr(e, "write");
  } catch (...) {
    return error;
  }
}

// BEGIN IMMEDIATE; null, or why the batch cannot run.
std::exception_ptr begin_transaction(Connection& conn) {
  try {
    conn.run("BEGIN IMMEDIATE");
    return nullptr;
  } catch (const std::exception& e) {
    return store_error_ptr(e, "starting a write");
  }
}

void rollback_quietly(Connection& conn) {
  try {
    conn.run("ROLLBACK");
  } catch (...) {
    // SQLite already rolled the transaction back (it does so itself on SQLITE_FULL).
  }
}

}  // namespace

std::shared_ptr<Store::Job> Store::enqueue_job(std::function<void(WriteTxn&)> fn,
                                              std::function<void(std::exception_ptr)> on_ran,
                                              std::function<void(std::exception_ptr)> on_done,
                                              RunTwice run_twice) {
  auto job = std::make_shared<Job>();
  job->run_twice = run_twice;
  job->fn = std::move(fn);
  job->on_ran = std::move(on_ran);
  job->on_done = std::move(on_done);
  job->committed = job->done.get_future().share();
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) {
      throw StoreError(StoreError::Kind::kUnavailable, "the store is shutting down");
    }
    queue_.push_back(job);
  }
  queue_cv_.notify_one();
  return job;
}

void Store::submit(std::function<void(WriteTxn&)> fn) {
  auto job = enqueue_job(std::move(fn));
  job->committed.get();
  if (job->error) std::rethrow_exception(job->error);
}

Store::CommitTicket Store::write_then(std::function<void(WriteTxn&)> fn,
                                      std::function<void(std::exception_ptr)> on_ran,
                                      std::function<void(std::exception_ptr)> on_done) {
  CommitTicket ticket;
  ticket.job_ = enqueue_job(std::move(fn), std::move(on_ran), std::move(on_done), RunTwice::kAllowed);
  return ticket;
}

void Store::write_async(std::function<void(WriteTxn&)> fn, std::function<void(std::exception_ptr)> on_done) {
  enqueue_job(std::move(fn), nullptr, std::move(on_done), RunTwice::kAllowed);
}

std::size_t Store::queued_writes() {
  std::lock_guard lock(queue_mu_);
  return queue_.size();
}

void Store::CommitTicket::wait() const {
  job_->committed.get();
  if (job_->error) std::rethrow_exception(job_->error);
}

void Store::writer_loop() {
  std::deque<std::shared_ptr<Job>> batch;
  for (;;) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      batch.swap(queue_);
    }
    run_batch(batch);
    batch.clear();
    finish_checkpoint();
  }
}

void Store::run_batch(std::deque<std::shared_ptr<Job>>& batch) {
  Connection& conn = *writer_conn_;
  std::exception_ptr batch_error = begin_transaction(conn);
  // What the jobs that succeeded so far leave to do: numbers whose owner changed (to tell
  // the directory after the commit), sender-window entries (to take back if the batch
  // fails), and the on_ran signals of write_then jobs.
  std::vector<std::string> changed;
  std::vector<std::pair<std::string, EpochMs>> window_adds;
  std::vector<Signal> early_ran;
  auto keep = [&](const WriteTxn& txn, const std::shared_ptr<Job>& job) {
    changed.insert(changed.end(), txn.changed_phones().begin(), txn.changed_phones().end());
    window_adds.insert(window_adds.end(), txn.window_adds().begin(), txn.window_adds().end());
    if (job->early()) early_ran.push_back({job, Signal::kRan});
  };
  auto take_back = [this](const std::vector<std::pair<std::string, EpochMs>>& adds) {
    for (const auto& [sender, at] : adds) senders_.remove(sender, at);
  };
  auto undo_all = [&] {
    rollback_quietly(conn);
    take_back(window_adds);
    window_adds.clear();
    changed.clear();
    early_ran.clear();
  };

  // A batch of writes that may run twice (write_then, write_async) first runs without a
  // savepoint per write: a savepoint copies every page a write touches. If one of them
  // throws, the batch is undone and run again the careful way, so that only that one fails.
  const bool rerunnable = std::all_of(batch.begin(), batch.end(),
                                      [](const auto& job) { return job->run_twice == RunTwice::kAllowed; });
  bool all_ran = false;
  if (!batch_error && rerunnable) {
    all_ran = true;
    for (auto& job : batch) {
      WriteTxn txn(conn, clock_.now_ms(), senders_);
      try {
        job->fn(txn);
        conn.finish_statements();
      } catch (...) {
        take_back(txn.window_adds());
        conn.finish_statements();
        all_ran = false;
        break;
      }
      keep(txn, job);
    }
    if (!all_ran) {
      undo_all();
      batch_error = begin_transaction(conn);
    }
  }
  if (!batch_error && !all_ran) {
    for (auto& job : batch) {
      WriteTxn txn(conn, clock_.now_ms(), senders_);
      try {
        conn.run("SAVEPOINT job");
        job->fn(txn);
        conn.finish_statements();
        conn.run("RELEASE job");
        keep(txn, job);
      } catch (...) {
        take_back(txn.window_adds());
        job->error = translate_sqlite_error(std::current_exception());
        job->fn_error = job->error;
        if (job->early()) early_ran.push_back({job, Signal::kRan});
        conn.finish_statements();
        try {
          conn.run("ROLLBACK TO job");
          conn.run("RELEASE job");
        } catch (...) {
          // The transaction itself is gone (e.g. SQLITE_FULL rolled it back): fail the batch.
          batch_error = job->error;
          break;
        }
      }
    }
  }
  for (auto& signal : early_ran) signal.job->ran_signalled = true;
  hand_to_notifier(early_ran);  // their callers may proceed while the commit is under way
  if (!batch_error) {
    try {
      conn.run("COMMIT");
      writes_run_.fetch_add(batch.size(), std::memory_order_relaxed);
      commits_.fetch_add(1, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      batch_error = store_error_ptr(e, "committing");
    }
  }
  if (batch_error) undo_all();
  if (!changed.empty() && on_phone_change_) on_phone_change_(changed);
  std::vector<Signal> signals;
  signals.reserve(batch.size());
  for (auto& job : batch) {
    if (batch_error && !job->error) job->error = batch_error;
    // An early job whose fn never ran (the batch failed before it) learns it here.
    if (job->early() && !job->ran_signalled) {
      job->fn_error = job->error;
      signals.push_back({job, Signal::kRan});
    }
    signals.push_back({job, Signal::kDone});
  }
  hand_to_notifier(signals);
}

// Waking each waiting caller costs a system call; the notifier thread does that, so the
// writer can start the next batch at once.
void Store::hand_to_notifier(std::vector<Signal>& signals) {
  if (signals.empty()) return;
  {
    std::lock_guard lock(notify_mu_);
    for (auto& s : signals) notify_queue_.push_back(std::move(s));
  }
  signals.clear();
  notify_cv_.notify_one();
}

void Store::notify_loop() {
  std::deque<Signal> signals;
  for (;;) {
    {
      std::unique_lock lock(notify_mu_);
      notify_cv_.wait(lock, [&] { return notify_stopping_ || !notify_queue_.empty(); });
      if (notify_queue_.empty()) return;  // stopping, nothing left
      signals.swap(notify_queue_);
    }
    for (auto& s : signals) {
      try {
        if (s.kind == Signal::kRan) {
          s.job->on_ran(s.job->fn_error);
          continue;
        }
        s.job->done.set_value();
        if (s.job->on_done) s.job->on_done(s.job->error);
      } catch (const std::exception& e) {
        LOG_ERROR("store.callback_failed", {"error", e.what()});
      }
    }
    signals.clear();
  }
}

}  // namespace smsr
