// The store's file: reopening, migrations, files it refuses, the health check.
#include <SQLiteCpp/Database.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "app/routing/pruner.hpp"
#include "storage/database.hpp"
#include "tests/unit/store_fixture.hpp"

namespace smsr {
namespace {

using namespace test;

// ---------------------------------------------------------------------------------------
// The file

TEST_CASE("Reopening the same file keeps users, numbers and messages", "[store]") {
  TempDir dir;
  ManualClock clock(kStart);
  const std::string path = dir.file("router.db");
  UserId id = 0;
  {
    Store store(path, clock);
    id = add_user(store, {"+15145550001", "+15145550002"}).id;
    insert(store, inbound("SM1", "+15145550001", id, Outcome::kRouted, kStart));
  }
  Store store(path, clock);
  Resolution r = store.resolve("+15145550002");
  REQUIRE(r.user);
  CHECK(r.user->id == id);
  auto msg = store.inbound_by_sid("SM1");
  REQUIRE(msg);
  CHECK(msg->user_id == std::optional<UserId>(id));
  CHECK(store.pending_inbound().size() == 1);
}

TEST_CASE("Migrating an up-to-date database again changes nothing", "[store]") {
  TempDir dir;
  ManualClock clock(kStart);
  const std::string path = dir.file("router.db");
  {
    Connection conn(path, Connection::Mode::kWriter);
    CHECK(migrate_schema(conn) == 0);
    CHECK(migrate_schema(conn) == current_schema_version());
  }
  std::string schema_before;
  {
    Store store(path, clock);
    add_user(store, {"+15145550001"});
  }
  {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    schema_before = db.execAndGet("SELECT group_concat(sql, ';') FROM sqlite_master").getString();
  }
  {
    Connection conn(path, Connection::Mode::kWriter);
    CHECK(migrate_schema(conn) == current_schema_version());
    CHECK(conn.db().execAndGet("PRAGMA user_version").getInt() == current_schema_version());
    CHECK(conn.db().execAndGet("SELECT count(*) FROM users").getInt() == 1);
    CHECK(conn.db().execAndGet("SELECT group_concat(sql, ';') FROM sqlite_master").getString() ==
          schema_before);
  }
  Store store(path, clock);
  CHECK(store.resolve("+15145550001").kind == Resolution::Kind::kUser);
}

TEST_CASE("A version 1 database is upgraded: the sender index gives way to one over auto replies, data kept, "
          "outgoing messages indexed by the message they answer",
          "[store]") {
  TempDir dir;
  ManualClock clock(kStart);
  const std::string path = dir.file("router.db");
  {
    Store store(path, clock);
    insert(store, inbound("SM1", "+15145550001", UserId{1}, Outcome::kRouted, kStart - 1000));
  }
  // Back to what version 1 had.
  exec_sql(path, "DROP INDEX inbound_auto_replies");
  exec_sql(path, "DROP INDEX outbound_inbound");
  exec_sql(path, "CREATE INDEX inbound_sender_time ON inbound_messages(from_number, received_ms)");
  exec_sql(path, "PRAGMA user_version = 1");

  Store store(path, clock);
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  auto has_index = [&](const std::string& name) {
    return db.execAndGet("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '" + name + "'")
               .getInt() == 1;
  };
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == current_schema_version());
  CHECK_FALSE(has_index("inbound_sender_time"));
  CHECK(has_index("inbound_auto_replies"));
  CHECK(has_index("outbound_inbound"));
  CHECK(store.inbound_by_sid("SM1").has_value());
  CHECK(store.write([](WriteTxn& txn) { return txn.count_routed_since("+15145550001", 0, 10); }) == 1);
}

TEST_CASE("A database with a newer schema version than this binary knows is refused as "
          "kCorrupt and left untouched",
          "[store]") {
  TempDir dir;
  ManualClock clock(kStart);
  const std::string path = dir.file("router.db");
  { Store store(path, clock); }
  const int newer = current_schema_version() + 1;
  exec_sql(path, "PRAGMA user_version = " + std::to_string(newer));

  auto err = store_error_of([&] { Store store(path, clock); });
  REQUIRE(err);
  CHECK(err->kind() == StoreError::Kind::kCorrupt);
  CHECK_THAT(err->what(), Catch::Contains(std::to_string(newer)));
  // An operator must be able to tell which file is meant.
  CHECK_THAT(err->what(), Catch::Contains(path));

  SQLite::Database db(path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == newer);
}

TEST_CASE("A file that is not a database is refused with a StoreError naming the path",
          "[store]") {
  TempDir dir;
  ManualClock clock(kStart);
  const std::string path = dir.file("notes.db");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 200; ++i) out << "this is a text file, not an SQLite database\n";
  }
  const auto size_before = std::filesystem::file_size(path);

  auto err = store_error_of([&] { Store store(path, clock); });
  REQUIRE(err);
  CHECK((err->kind() == StoreError::Kind::kCorrupt || err->kind() == StoreError::Kind::kInvalid));
  CHECK_THAT(err->what(), Catch::Contains(path));
  CHECK(std::filesystem::file_size(path) == size_before);
}

TEST_CASE("check_health succeeds on a good store and records the check", "[store]") {
  Fixture f;
  f.clock.set(kStart + 1234);
  CHECK_NOTHROW(f.store.check_health());

  SQLite::Database db(f.path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT value FROM meta WHERE key = 'health_ms'").getString() ==
        std::to_string(kStart + 1234));
}

}  // namespace
}  // namespace smsr
