#include "storage/database.hpp"

#include <sqlite3.h>

#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Transaction.h>

#include <array>
#include <mutex>

#include "storage/errors.hpp"
#include "storage/wal_buffer_vfs.hpp"

namespace smsr {
namespace {

// Each entry upgrades the schema from version i to i+1. Append only; never edit a
// migration that has shipped.
const std::array<const char*, 3> kMigrations = {
    // 0 -> 1: users, numbers, configs, inbound messages, outbound queue, usage logs.
    R"sql(
CREATE TABLE users (
  id           INTEGER PRIMARY KEY,
  email        TEXT NOT NULL DEFAULT '',
  full_name    TEXT NOT NULL DEFAULT '',
  phone_number TEXT,                     -- primary number, E.164
  is_active    INTEGER NOT NULL DEFAULT 1,
  created_ms   INTEGER NOT NULL,
  updated_ms   INTEGER NOT NULL
);
-- Not UNIQUE: numbers pulled from a central database may collide after normalisation;
-- resolution reports those as ambiguous instead of refusing the whole sync.
CREATE INDEX users_phone ON users(phone_number);

CREATE TABLE phone_mappings (
  id           INTEGER PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  phone_number TEXT NOT NULL,             -- E.164
  created_ms   INTEGER NOT NULL,
  UNIQUE (user_id, phone_number)
);
CREATE INDEX phone_mappings_phone ON phone_mappings(phone_number);

-- Numbers whose owner changed, so every process sharing the file (the service, the CLI)
-- can drop its cached answer for them.
CREATE TABLE phone_changes (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  phone_number TEXT NOT NULL,
  changed_ms   INTEGER NOT NULL
);

CREATE TABLE configs (
  config_key   TEXT PRIMARY KEY,
  config_value TEXT NOT NULL,
  is_active    INTEGER NOT NULL DEFAULT 1,
  updated_ms   INTEGER NOT NULL
);

CREATE TABLE inbound_messages (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  message_sid  TEXT NOT NULL UNIQUE,
  account_sid  TEXT NOT NULL DEFAULT '',
  from_number  TEXT NOT NULL,            -- E.164 when parseable, else as received
  to_number    TEXT NOT NULL DEFAULT '',
  body         TEXT NOT NULL DEFAULT '',
  media_json   TEXT NOT NULL DEFAULT '[]',
  user_id      INTEGER,                  -- the owner at arrival; NULL for unknown senders
  outcome      TEXT NOT NULL,            -- routed, unknown, inactive, ambiguous, opt_out, ...
  state        TEXT NOT NULL,            -- pending (agent work left), done, failed
  auto_reply   INTEGER NOT NULL DEFAULT 0, -- 1 when the router answered with its own text
  answer_twiml TEXT,                     -- what the webhook answered (NULL while in flight)
  reply_body   TEXT,                     -- the agent's reply
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_error   TEXT,
  received_ms  INTEGER NOT NULL,
  done_ms      INTEGER
);
CREATE INDEX inbound_pending ON inbound_messages(id) WHERE state = 'pending';
CREATE INDEX inbound_user ON inbound_messages(user_id, id);
CREATE INDEX inbound_sender_time ON inbound_messages(from_number, received_ms);

-- SMS sent through Twilio's REST API: replies that missed the inline window (one row per
-- part of a long reply) and proactive messages.
CREATE TABLE outbound_messages (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  inbound_id      INTEGER REFERENCES inbound_messages(id),
  user_id         INTEGER,
  to_number       TEXT NOT NULL,
  from_number     TEXT NOT NULL,
  body            TEXT NOT NULL,
  part            INTEGER NOT NULL DEFAULT 1,
  parts           INTEGER NOT NULL DEFAULT 1,
  usage_log_id    INTEGER,
  state           TEXT NOT NULL,         -- queued, sending, sent, failed
  twilio_sid      TEXT,
  delivery_status TEXT,                  -- Twilio's MessageStatus, highest rank seen
  error_code      INTEGER,
  attempts        INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT,
  created_ms      INTEGER NOT NULL,
  updated_ms      INTEGER NOT NULL
);
CREATE INDEX outbound_unsent ON outbound_messages(id) WHERE state IN ('queued', 'sending');
CREATE INDEX outbound_twilio_sid ON outbound_messages(twilio_sid);

CREATE TABLE usage_logs (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id            INTEGER,
  phone_number       TEXT NOT NULL,
  message_direction  TEXT NOT NULL CHECK (message_direction IN ('inbound', 'outbound')),
  message_length     INTEGER NOT NULL,
  message_content    TEXT,
  success            INTEGER NOT NULL DEFAULT 1,
  processing_time_ms INTEGER,
  error_message      TEXT,
  metadata           TEXT NOT NULL DEFAULT '{}',
  twilio_message_sid TEXT,
  final_status       TEXT NOT NULL DEFAULT 'unknown',
  created_ms         INTEGER NOT NULL,
  pushed_ms          INTEGER
);
CREATE INDEX usage_logs_user ON usage_logs(user_id, id);
CREATE INDEX usage_logs_unpushed ON usage_logs(id) WHERE pushed_ms IS NULL;

-- Numbers that texted STOP (or whose delivery failed with 21610); nothing is sent to them
-- until they opt in again.
CREATE TABLE opt_outs (
  phone_number TEXT PRIMARY KEY,
  opted_out_ms INTEGER NOT NULL
);

-- Central sync: the digest of each user-id bucket as last applied, so a round fetches only
-- buckets whose digest changed centrally.
CREATE TABLE sync_buckets (
  bucket INTEGER PRIMARY KEY,
  digest TEXT NOT NULL
);

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
-- Identifies this database file (not the machine): a wiped edge gets a new epoch.
INSERT INTO meta(key, value) VALUES ('db_epoch', lower(hex(randomblob(8))));
)sql",
    // 1 -> 2: the per-sender rate limit counts in memory (storage/sender_window.hpp); only
    // the daily cap on the router's own replies still asks the table, about rows it answered.
    R"sql(
DROP INDEX inbound_sender_time;
CREATE INDEX inbound_auto_replies ON inbound_messages(from_number, received_ms) WHERE auto_reply = 1;
)sql",
    // 2 -> 3: old messages are deleted (database.retention_days); deleting an inbound message
    // looks for outgoing ones that refer to it.
    R"sql(
CREATE INDEX outbound_inbound ON outbound_messages(inbound_id);
)sql",
};

bool is_unavailable_code(int code) {
  switch (code & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

// Process-wide settings, which SQLite accepts only before it initialises (at the first
// connection or VFS registration, hence a call from both helpers below). Memory statistics
// off: with them on, every allocation of every connection takes one global mutex, and the
// writer and the readers allocate all the time.
void configure_sqlite() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

int open_flags(Connection::Mode mode) {
  configure_sqlite();
  // A connection belongs to one thread at a time (see the header), so SQLite's own lock
  // around every call on it would only cost.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (mode == Connection::Mode::kWriter) flags |= SQLITE_OPEN_CREATE;
  return flags;
}

const char* vfs_for(Connection::Mode mode) {
  configure_sqlite();
  // The writer gathers each commit's log pages into one write (see wal_buffer_vfs.hpp).
  return mode == Connection::Mode::kWriter ? wal_buffer_vfs_name() : "";
}

}  // namespace

Connection::Connection(const std::string& path, Mode mode)
    : db_(path, open_flags(mode), /*busyTimeoutMs=*/5000, vfs_for(mode)) {
  // WAL lets readers run while the writer commits; FULL makes every commit durable.
  db_.exec("PRAGMA journal_mode=WAL");
  db_.exec("PRAGMA synchronous=FULL");
  db_.exec("PRAGMA foreign_keys=ON");
  // Keep hot pages in memory (64 MiB per connection). No mmap: a connection drops its
  // mapping whenever another one has written, and unmapping in a busy process costs every
  // core a TLB flush and every later read page faults (measured: 7 % more webhooks/s without).
  db_.exec("PRAGMA cache_size=-65536");
  db_.exec("PRAGMA temp_store=MEMORY");
  if (mode == Mode::kWriter) {
    // Above CheckpointPolicy::restart_after (512 MiB of pages): a log that starts over
    // reuses its file rather than truncating it, which held up commits for about 60 ms each
    // time when measured. A log that grew longer (a reader held it) is cut back to this.
    db_.exec("PRAGMA journal_size_limit=1073741824");
    // Store runs the checkpoints (see CheckpointPolicy), mostly on a thread of their own.
    db_.exec("PRAGMA wal_autocheckpoint=0");
  } else if (mode == Mode::kReader) {
    db_.exec("PRAGMA query_only=ON");
  }
}

SQLite::Statement& Connection::prepare(const std::string& sql) {
  auto& slot = statements_[sql];
  if (!slot) {
    slot = std::make_unique<SQLite::Statement>(db_, sql);
  } else {
    slot->reset();
    slot->clearBindings();
  }
  in_use_.push_back(slot.get());
  return *slot;
}

void Connection::finish_statements() {
  for (auto* st : in_use_) {
    try {
      st->reset();
    } catch (...) {
      // reset() reports the statement's last error again; the statement is reset anyway.
    }
  }
  in_use_.clear();
}

int current_schema_version() { return static_cast<int>(kMigrations.size()); }

int migrate_schema(Connection& conn) {
  try {
    // IMMEDIATE: two processes migrating at once serialize instead of failing.
    SQLite::Transaction txn(conn.db(), SQLite::TransactionBehavior::IMMEDIATE);
    int version = conn.db().execAndGet("PRAGMA user_version").getInt();
    if (version > current_schema_version()) {
      throw StoreError(StoreError::Kind::kCorrupt,
                       "database schema version " + std::to_string(version) +
                           " is newer than this sms-router understands (" +
                           std::to_string(current_schema_version()) +
                           "); upgrade sms-router or restore a matching backup");
    }
    for (int v = version; v < current_schema_version(); ++v) {
      conn.exec(kMigrations[static_cast<std::size_t>(v)]);
    }
    conn.exec("PRAGMA user_version=" + std::to_string(current_schema_version()));
    txn.commit();
    return version;
  } catch (const StoreError&) {
    throw;
  } catch (const std::exception& e) {
    rethrow_as_store_error(e, "migrating the database schema");
  }
}

void rethrow_as_store_error(const std::exception& e, const std::string& context) {
  if (auto* se = dynamic_cast<const StoreError*>(&e)) throw *se;
  if (auto* sql = dynamic_cast<const SQLite::Exception*>(&e)) {
    int code = sql->getErrorCode();
    std::string msg = context + ": " + sql->getErrorStr();
    if ((code & 0xff) == SQLITE_CONSTRAINT) throw StoreError(StoreError::Kind::kConflict, msg);
    if ((code & 0xff) == SQLITE_NOTADB || (code & 0xff) == SQLITE_CORRUPT) {
      throw StoreError(StoreError::Kind::kCorrupt, msg);
    }
    if (is_unavailable_code(code)) throw StoreError(StoreError::Kind::kUnavailable, msg);
    throw StoreError(StoreError::Kind::kInvalid, msg + " (" + sql->what() + ")");
  }
  throw StoreError(StoreError::Kind::kUnavailable, context + ": " + e.what());
}

}  // namespace smsr
