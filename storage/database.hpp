// One SQLite connection with the pragmas sms-router relies on and a cache of prepared
// statements. Not thread-safe: each connection belongs to one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

namespace smsr {

class Connection {
 public:
  enum class Mode { kWriter, kReader, kCheckpointer };

  // Opens (creating when kWriter) the database file and applies the pragmas: WAL,
  // synchronous=FULL (group commit makes it cheap), busy_timeout, foreign keys.
  Connection(const std::string& path, Mode mode);

  // A prepared statement for `sql`, reset and with bindings cleared. Statements are
  // cached per connection, keyed by the SQL text.
  SQLite::Statement& prepare(const std::string& sql);

  // Resets every statement handed out since the last call. A statement left mid-result
  // keeps its read transaction open: the connection would keep seeing an old snapshot
  // and WAL checkpoints would starve. Call at the end of every read and write.
  void finish_statements();

  SQLite::Database& db() { return db_; }
  void exec(const std::string& sql) { db_.exec(sql); }
  // Runs a statement without results through the statement cache (no parse per call).
  void run(const std::string& sql) {
    prepare(sql).exec();
  }

 private:
  SQLite::Database db_;
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> statements_;
  std::vector<SQLite::Statement*> in_use_;
};

// Brings the schema to the current version. Idempotent; runs in one transaction.
// Returns the version before migrating. Throws StoreError(kCorrupt) if the file's schema is
// newer than this binary knows.
int migrate_schema(Connection& conn);

// The schema version this binary writes.
int current_schema_version();

// Translates a SQLite exception into a StoreError with a message for operators.
[[noreturn]] void rethrow_as_store_error(const std::exception& e, const std::string& context);

}  // namespace smsr
