// The local store: users, phone numbers, inbound messages, the outbound queue and usage
// logs in one SQLite file.
//
// Writes go through one writer thread that takes every pending write, runs each in its own
// savepoint and commits them together (group commit: many concurrent webhooks share one
// fsync). Reads use their own connections and never wait for the writer (WAL).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/clock.hpp"
#include "core/domain.hpp"
#include "core/message.hpp"
#include "storage/errors.hpp"
#include "storage/sender_window.hpp"

namespace smsr {

class Connection;

struct InboundRecord {
  std::int64_t id = 0;
  std::string message_sid;
  std::string account_sid;
  std::string from_number;
  std::string to_number;
  std::string body;
  std::string media_json = "[]";
  std::optional<UserId> user_id;
  Outcome outcome = Outcome::kUnknown;
  InboundState state = InboundState::kDone;
  bool auto_reply = false;
  std::optional<std::string> answer_twiml;
  std::optional<std::string> reply_body;
  int attempts = 0;
  EpochMs received_ms = 0;
};

struct UsageLog {
  std::int64_t id = 0;
  std::optional<UserId> user_id;
  std::string phone_number;
  std::string direction;  // inbound | outbound
  std::string content;
  bool success = true;
  std::optional<std::int64_t> processing_time_ms;
  std::string error_message;
  std::string metadata_json = "{}";
  std::string twilio_message_sid;
  std::string final_status = "unknown";
  EpochMs created_ms = 0;
};

struct OutboundRecord {
  std::int64_t id = 0;
  std::optional<std::int64_t> inbound_id;
  std::optional<UserId> user_id;
  std::string to_number;
  std::string from_number;
  std::string body;
  int part = 1;
  int parts = 1;
  std::optional<std::int64_t> usage_log_id;
  OutboundState state = OutboundState::kQueued;
  std::string twilio_sid;
  std::string delivery_status;
  int attempts = 0;
};

struct HistoryEntry {
  std::string direction;  // inbound | outbound
  std::string body;
  EpochMs at = 0;
};

struct NewUser {
  std::optional<UserId> id;         // chosen by the store when absent
  std::string email;
  std::string full_name;
  std::vector<std::string> phones;  // E.164; the first is the primary number
  bool active = true;
};

struct UserWithPhones {
  User user;
  std::vector<std::string> extra_phones;  // mapping numbers, E.164, sorted
};

// A user as the central database has it, numbers already normalised.
struct SyncedUser {
  User user;                              // phone_number may be empty
  std::vector<std::string> extra_phones;  // E.164
};

struct ConfigRow {
  std::string key;
  std::string value;
  bool active = true;
};

struct StoreStats {
  std::int64_t users = 0;
  std::int64_t active_users = 0;
  std::int64_t mappings = 0;
  std::int64_t pending_inbound = 0;
  std::int64_t queued_outbound = 0;
  std::int64_t unpushed_usage_logs = 0;
  std::vector<std::pair<std::string, std::int64_t>> inbound_by_outcome;  // the outcome as text
  std::vector<std::string> ambiguous_numbers;  // numbers claimed by two or more users
};

// The operations a write may perform. Lives only inside Store::write, on the writer thread.
class WriteTxn {
 public:
  WriteTxn(Connection& conn, EpochMs now, SenderWindow& senders) : conn_(conn), now_(now), senders_(senders) {}

  EpochMs now() const { return now_; }

  // ---- inbound messages ----
  std::optional<InboundRecord> find_inbound(const std::string& message_sid);
  // Messages from `from` since `since` that were forwarded to an agent, counted up to `limit`.
  // Exact for the last SenderWindow::kSpanMs.
  int count_routed_since(const std::string& from, EpochMs since, int limit);
  // Messages from `from` since `since` that the router answered with its own text, up to `limit`.
  int count_auto_replies_since(const std::string& from, EpochMs since, int limit);
  std::int64_t insert_inbound(const InboundRecord& record);
  void set_answer(std::int64_t inbound_id, const std::string& twiml);
  // Ends agent work on a message: state done or failed, the reply (if any), the error,
  // and the webhook's answer when the reply went back inline. Both calls name the message
  // by id and MessageSid and return false when no such row exists: a message admitted by
  // write_then() whose batch failed was never stored, and its id may since belong to
  // another message.
  bool finish_inbound(std::int64_t inbound_id, const std::string& message_sid, InboundState state,
                      const std::optional<std::string>& reply, const std::string& error,
                      const std::optional<std::string>& answer_twiml = std::nullopt);
  bool record_attempt(std::int64_t inbound_id, const std::string& message_sid, const std::string& error);

  std::int64_t insert_usage_log(const UsageLog& log);

  // The opt-out ledger (STOP / START).
  bool is_opted_out(const std::string& phone);
  void set_opted_out(const std::string& phone, bool opted_out);
  std::int64_t queue_outbound(const OutboundRecord& record);
  // Before each REST attempt: state sending, attempts + 1 (a crash mid-call is visible).
  void mark_outbound_sending(std::int64_t id);
  void mark_outbound_sent(std::int64_t id, const std::string& twilio_sid, const std::string& status);
  // Back to queued after a failed attempt that will be retried.
  void mark_outbound_retry(std::int64_t id, const std::string& error);
  void mark_outbound_failed(std::int64_t id, const std::string& error, int error_code);
  std::optional<OutboundRecord> find_outbound_by_sid(const std::string& twilio_sid);
  // Records Twilio's delivery status on the message and `final_status` on its usage log.
  void set_delivery_status(std::int64_t id, const std::string& status,
                           const std::string& final_status, int error_code);

  // ---- users and numbers; each change of a number's owner is journaled ----
  User insert_user(const NewUser& user);
  // Replaces email, full name, active flag and, when `phones` is non-empty, the numbers.
  void update_user(const NewUser& user);
  void set_user_active(UserId id, bool active);
  void delete_user(UserId id);
  void add_phone(UserId id, const std::string& e164);
  // Removes a mapping number; a primary number is removed from the user (who keeps any
  // other numbers). Throws kNotFound if nobody has it.
  void remove_phone(const std::string& e164);
  std::optional<User> find_user(UserId id);
  std::optional<UserId> owner_of(const std::string& e164);  // any claim, primary first

  // Records the time of a health check (a real write, so a full disk is noticed).
  void touch_health_row();

  // ---- central sync ----
  // Makes users with ids in [first_id, first_id + count) exactly `users` (with their extra
  // numbers), records the bucket's digest, and journals every number involved.
  void replace_user_range(std::int64_t bucket, std::int64_t first_id, std::int64_t count,
                          const std::vector<SyncedUser>& users, const std::string& digest);
  void replace_configs(const std::vector<ConfigRow>& rows);
  // Marks every usage log with id <= last_id as pushed to the central database.
  void mark_usage_logs_pushed(std::int64_t last_id);
  // Deletes up to `limit` pushed usage logs created before `before`; returns how many.
  int prune_pushed_usage_logs(EpochMs before, int limit);
  // Deletes up to `limit` rows of each kind of history older than `before`: finished inbound
  // messages (not those an unsent outgoing message still refers to), sent or failed outgoing
  // messages, and, with UsageLogs::kPrune (standalone: nothing pushes them), usage logs.
  // Never pending work, opt-outs or users.
  enum class UsageLogs { kKeep, kPrune };
  struct PruneCounts {
    int inbound = 0;
    int outbound = 0;
    int usage_logs = 0;
    int phone_changes = 0;
    int most() const { return std::max({inbound, outbound, usage_logs, phone_changes}); }
  };
  PruneCounts prune_history(EpochMs before, UsageLogs usage_logs, int limit);
  // Gives this database file a new random id (see sync/: a restored backup).
  std::string renew_db_epoch();

  // Numbers whose owner changed in this write (filled by the operations above).
  const std::vector<std::string>& changed_phones() const { return changed_; }
  // Routed messages this write added to the sender window, to take back on rollback.
  const std::vector<std::pair<std::string, EpochMs>>& window_adds() const { return window_adds_; }

 private:
  void note_changed(const std::string& e164);
  std::vector<std::string> numbers_of(UserId id);
  void require_unowned(const std::string& e164, std::optional<UserId> except);

  Connection& conn_;
  EpochMs now_;
  SenderWindow& senders_;
  std::vector<std::string> changed_;
  std::vector<std::pair<std::string, EpochMs>> window_adds_;
};

// When the write-ahead log is checkpointed, in log pages (4 KiB each).
struct CheckpointPolicy {
  // The checkpointer copies committed pages into the database file once this many were
  // added to the log, or a second has passed.
  int copy_after = 8192;
  // Under writes that never pause, the log starts over only when the writer itself
  // finishes a checkpoint (see Store's private part), which holds up writes for a copy
  // and an fsync (mostly 2 to 5 ms measured): it does that once the log is this long
  // (512 MiB). A pause in the writes starts the log over sooner, and for free.
  int restart_after = 131072;
};

class Store {
  struct Job;  // one write waiting for, or inside, a batch
  // Whether a write's fn may be run a second time (see run_batch).
  enum class RunTwice { kNever, kAllowed };

 public:
  // Opens (creating if needed) and migrates the database at `path`. Throws StoreError.
  Store(const std::string& path, const Clock& clock, CheckpointPolicy checkpoints = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Runs `fn` on the writer thread inside a savepoint of the next group commit and returns
  // its result once that commit is durable. If `fn` throws, only its own changes are rolled
  // back and the exception is rethrown here (SQLite errors as StoreError). If the commit
  // fails (disk full, I/O error), throws StoreError(kUnavailable).
  template <class F>
  auto write(F&& fn) -> std::invoke_result_t<F&, WriteTxn&> {
    using R = std::invoke_result_t<F&, WriteTxn&>;
    if constexpr (std::is_void_v<R>) {
      submit([&fn](WriteTxn& txn) { fn(txn); });
    } else {
      std::optional<R> result;
      submit([&fn, &result](WriteTxn& txn) { result.emplace(fn(txn)); });
      return std::move(*result);
    }
  }

  // The pending commit of a write_then(). wait() blocks until that commit is durable and
  // throws StoreError(kUnavailable) if it failed.
  class CommitTicket {
   public:
    void wait() const;

   private:
    friend class Store;
    std::shared_ptr<Job> job_;
  };

  // Queues `fn` for the next batch and returns at once with a ticket for its commit. As
  // soon as the writer has run `fn` (before the batch commits), `on_ran` is called on the
  // store's notifier thread with what `fn` threw (null if nothing), or with the batch's
  // error if the batch failed before `fn` ran; always before the ticket's wait() returns.
  // For callers with something to hand on once the write is decided (a routed webhook: its
  // message to the dispatcher, whose agent call then overlaps the commit). Nothing that
  // depends on the write may be shown to the outside world (an HTTP 200, a message sent)
  // before the ticket's wait() returns or a later write() returns: batches commit in order,
  // and a failed batch leaves nothing behind. `on_done`, if given, is called like
  // write_async's once the batch has committed or failed, after `on_ran`. `fn` must stay
  // valid until then; the callbacks must be quick and must not call the store. `fn` may run
  // twice, as write_async's. Throws StoreError if the store is stopping.
  CommitTicket write_then(std::function<void(WriteTxn&)> fn, std::function<void(std::exception_ptr)> on_ran,
                          std::function<void(std::exception_ptr)> on_done = nullptr);

  // Queues `fn` for the next batch and returns at once; `on_done` is called on the store's
  // notifier thread once that batch has committed (with null) or failed (with what `fn`
  // threw, or the batch's error). For callers that need not wait (the dispatcher: its worker
  // goes on to the next user while the reply commits). `on_done` must be quick and must not
  // call the store. `fn` may run twice: a batch of such writes runs without a savepoint per
  // write, and if one throws, the batch is undone and run again with one, so that only that
  // write fails. So `fn` must set (not add to) what it reports, and anything else it does
  // outside the transaction must be harmless twice. Throws StoreError if the store is
  // stopping.
  void write_async(std::function<void(WriteTxn&)> fn, std::function<void(std::exception_ptr)> on_done);

  // Writes waiting for the writer thread (not counting the batch it is running).
  std::size_t queued_writes();
  // Since start: writes run and transactions committed (their ratio is how many writes
  // share one fsync).
  struct WriterCounts {
    std::uint64_t writes = 0;
    std::uint64_t commits = 0;
  };
  WriterCounts writer_counts() const {
    return {writes_run_.load(std::memory_order_relaxed), commits_.load(std::memory_order_relaxed)};
  }

  // Called on the writer thread after each commit with the numbers whose owner changed
  // in it, before the writes that changed them return. Set once, before use.
  void set_phone_change_listener(std::function<void(const std::vector<std::string>&)> fn);

  // ---- reads ----
  Resolution resolve(const std::string& e164);
  std::optional<UserWithPhones> user(UserId id);
  std::vector<UserWithPhones> list_users();
  std::optional<InboundRecord> inbound_by_sid(const std::string& message_sid);
  std::optional<InboundRecord> inbound_by_id(std::int64_t id);

  // Everything one agent call needs, read from one snapshot.
  struct DeliveryContext {
    InboundRecord message;
    std::optional<User> user;           // the owner recorded at arrival, if still there
    std::vector<HistoryEntry> history;  // see history()
  };
  std::optional<DeliveryContext> delivery_context(std::int64_t inbound_id, int history_limit);
  // The same for a message in hand that may not be committed yet (see write_then): its
  // owner and history from the database.
  DeliveryContext delivery_context(InboundRecord message, int history_limit);
  std::vector<InboundRecord> pending_inbound();
  std::optional<OutboundRecord> outbound_by_id(std::int64_t id);
  // Outgoing messages not yet sent (queued, or interrupted mid-send), oldest first.
  std::vector<OutboundRecord> unsent_outbound();
  bool is_opted_out(const std::string& phone);
  // The user's conversation before inbound message `before_id`, oldest first, at most
  // `limit` entries (inbound messages and the agent's replies to them).
  std::vector<HistoryEntry> history(UserId user_id, std::int64_t before_id, int limit);
  std::vector<UsageLog> usage_logs(std::optional<UserId> user_id, EpochMs since, int limit);
  // Journal of numbers whose owner changed: entries with seq > after, oldest first.
  std::vector<std::pair<std::int64_t, std::string>> phone_changes_after(std::int64_t after);
  std::int64_t last_phone_change_seq();
  StoreStats stats();
  // Two of the stats alone, for metrics: the first scans every user and mapping.
  std::int64_t count_ambiguous_numbers();
  std::int64_t count_unpushed_usage_logs();
  // When the oldest message still waiting arrived: inbound for its agent, outbound for
  // Twilio (nullopt: none waiting). Two index lookups, cheap on any size of database.
  struct OldestPending {
    std::optional<EpochMs> inbound_received_ms;
    std::optional<EpochMs> outbound_created_ms;
  };
  OldestPending oldest_pending();

  // ---- central sync ----
  std::vector<std::pair<std::int64_t, std::string>> sync_buckets();
  std::vector<ConfigRow> configs();
  // Usage logs not yet pushed, oldest first.
  std::vector<UsageLog> unpushed_usage_logs(int limit);
  // Random per database file: tells a wiped edge from a replay (see sync/).
  std::string db_epoch();
  // The highest usage-log id ever assigned in this file (AUTOINCREMENT's sequence).
  std::int64_t usage_log_sequence();

  // Reads and writes a trivial row; throws StoreError when the database is unusable.
  void check_health();

 private:
  class ReaderLease;

  // Runs `fn(Connection&)` on a pooled read connection, translating SQLite errors.
  template <class F>
  auto with_reader(const char* context, F&& fn) -> std::invoke_result_t<F&, Connection&>;
  // One integer read on a pooled connection (see single_int in store.cpp).
  std::int64_t read_int(const char* context, const std::string& sql);
  std::optional<DeliveryContext> read_delivery_context(std::int64_t inbound_id, std::optional<InboundRecord> message,
                                                       int history_limit);

  void submit(std::function<void(WriteTxn&)> fn);
  std::shared_ptr<Job> enqueue_job(std::function<void(WriteTxn&)> fn,
                                   std::function<void(std::exception_ptr)> on_ran = nullptr,
                                   std::function<void(std::exception_ptr)> on_done = nullptr,
                                   RunTwice run_twice = RunTwice::kNever);
  void writer_loop();
  void run_batch(std::deque<std::shared_ptr<Job>>& batch);
  std::unique_ptr<Connection> acquire_reader();
  void release_reader(std::unique_ptr<Connection> conn);

  const std::string path_;  // constant after construction
  const Clock& clock_;
  std::unique_ptr<Connection> writer_conn_;  // used only by the writer thread
  SenderWindow senders_;                     // used only by the writer thread
  void load_sender_window();
  std::function<void(const std::vector<std::string>&)> on_phone_change_;  // set before use

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::shared_ptr<Job>> queue_;  // guarded by queue_mu_
  bool stopping_ = false;                   // guarded by queue_mu_

  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;  // guarded by readers_mu_

  std::thread writer_;
  std::atomic<std::uint64_t> writes_run_{0};
  std::atomic<std::uint64_t> commits_{0};

  // Wakes the callers of finished writes (see hand_to_notifier).
  struct Signal {
    std::shared_ptr<Job> job;
    enum Kind { kRan, kDone } kind;
  };
  void hand_to_notifier(std::vector<Signal>& signals);
  void notify_loop();
  std::mutex notify_mu_;
  std::condition_variable notify_cv_;
  std::deque<Signal> notify_queue_;  // guarded by notify_mu_
  bool notify_stopping_ = false;     // guarded by notify_mu_
  std::thread notifier_;

  // Checkpoints copy committed pages from the log into the database file, so that the log
  // can start over instead of growing. SQLite starts it over when a write begins with every
  // page in it copied, which a checkpoint on another connection never achieves while writes
  // go on without a pause: the writer appends while it copies. So the checkpointer copies
  // on its own connection (PASSIVE: never blocks the writer or readers), and once the log is
  // long the writer, between two batches, copies what was committed meanwhile.
  void checkpoint_loop();
  void log_grew(int pages);  // the writer thread, after each commit
  void finish_checkpoint();  // the writer thread, between batches
  const CheckpointPolicy checkpoints_;
  int log_pages_at_copy_ = 0;  // writer thread only: the log's length at the last copy asked for
  enum class CheckpointStep { kNone, kCopy, kFinish };
  CheckpointStep checkpoint_step_ = CheckpointStep::kNone;  // guarded by queue_mu_
  std::condition_variable checkpoint_cv_;                   // waits on queue_mu_
  std::thread checkpointer_;
};

}  // namespace smsr
