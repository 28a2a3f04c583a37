// Store: opening, the threads it owns, and what does not belong to one of its parts
// (writer.cpp, checkpointer.cpp, reader_pool.cpp, read_*.cpp; WriteTxn in write_*.cpp).
#include "storage/store.hpp"

#include <sqlite3.h>

#include "core/thread_name.hpp"
#include "storage/database.hpp"
#include "storage/store_internal.hpp"

namespace smsr {

Store::Store(const std::string& path, const Clock& clock, CheckpointPolicy checkpoints)
    : path_(path), clock_(clock), checkpoints_(checkpoints) {
  try {
    writer_conn_ = std::make_unique<Connection>(path, Connection::Mode::kWriter);
    migrate_schema(*writer_conn_);
    load_sender_window();
    sqlite3_wal_hook(
        writer_conn_->db().getHandle(),
        [](void* store, sqlite3*, const char*, int pages) {
          static_cast<Store*>(store)->log_grew(pages);
          return SQLITE_OK;
        },
        this);
  } catch (const StoreError& e) {
    throw StoreError(e.kind(), path + ": " + e.what());
  } catch (const std::exception& e) {
    rethrow_as_store_error(e, "opening database " + path);
  }
  notifier_ = named_thread("db-notify", [this] { notify_loop(); });
  writer_ = named_thread("db-writer", [this] { writer_loop(); });
  checkpointer_ = named_thread("db-checkpoint", [this] { checkpoint_loop(); });
}

Store::~Store() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  checkpoint_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (checkpointer_.joinable()) checkpointer_.join();
  {
    std::lock_guard lock(notify_mu_);
    notify_stopping_ = true;
  }
  notify_cv_.notify_all();
  if (notifier_.joinable()) notifier_.join();
}

// The routed messages of the last SenderWindow::kSpanMs, newest first by id (arrival order)
// until the first older one: no index needed.
void Store::load_sender_window() {
  const EpochMs cutoff = clock_.now_ms() - SenderWindow::kSpanMs;
  auto& st = writer_conn_->prepare("SELECT from_number, received_ms, outcome FROM inbound_messages ORDER BY id DESC");
  std::vector<std::pair<std::string, EpochMs>> recent;
  while (st.executeStep()) {
    EpochMs at = st.getColumn(1).getInt64();
    if (at < cutoff) break;
    if (outcome_from_text(st.getColumn(2).getString()) == Outcome::kRouted) recent.emplace_back(st.getColumn(0).getString(), at);
  }
  writer_conn_->finish_statements();
  for (auto it = recent.rbegin(); it != recent.rend(); ++it) senders_.add(it->first, it->second);
}

void Store::set_phone_change_listener(std::function<void(const std::vector<std::string>&)> fn) {
  on_phone_change_ = std::move(fn);
}

void Store::check_health() {
  with_reader("checking the database", [&](Connection& conn) {
    auto& st = conn.prepare("SELECT count(*) FROM meta");
    st.executeStep();
  });
  // A real row, so a full disk or a read-only file shows here and not only under load.
  write([](WriteTxn& txn) { txn.touch_health_row(); });
}

}  // namespace smsr
