#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "storage/wal_buffer_vfs.hpp"
#include "tests/unit/temp_dir.hpp"

namespace {

// A raw SQLite handle, closed at scope end; `vfs` null = the default VFS.
struct Db {
  Db(const std::string& path, const char* vfs) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) == SQLITE_OK);
  }
  ~Db() { sqlite3_close_v2(handle); }
  int exec(const std::string& sql) { return sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, nullptr); }
  long long count(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(handle, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    long long n = -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(handle, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
  }
  sqlite3* handle = nullptr;
};

// Rows of `bytes` random bytes each: large ones span many pages, so a commit writes far
// more log than the buffer holds.
std::string insert_rows(int rows, int bytes) {
  return "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows) +
         ") INSERT INTO t(v) SELECT randomblob(" + std::to_string(bytes) + ") FROM n";
}

}  // namespace

TEST_CASE("a reader on the default VFS sees every commit written through the WAL buffer at once", "[store]") {
  smsr::test::TempDir dir;
  const std::string path = dir.file("t.db");
  Db writer(path, smsr::wal_buffer_vfs_name());
  REQUIRE(writer.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t(v BLOB)") == SQLITE_OK);
  Db reader(path, nullptr);
  long long expected = 0;
  for (int round = 0; round < 30; ++round) {
    // Small commits, then commits of several hundred KiB (one row larger than the buffer).
    const int rows = round < 15 ? 3 : 40;
    const int bytes = round % 5 == 4 ? 200 * 1024 : 8000;
    REQUIRE(writer.exec(insert_rows(rows, bytes)) == SQLITE_OK);
    expected += rows;
    REQUIRE(reader.count("SELECT count(*) FROM t") == expected);
    if (round == 20) REQUIRE(reader.exec("PRAGMA wal_checkpoint(TRUNCATE)") == SQLITE_OK);  // the log restarts at 0
  }
  CHECK(reader.count("SELECT count(*) FROM t WHERE length(v) IN (8000, 204800)") == expected);
  CHECK(reader.text("PRAGMA integrity_check") == "ok");
}

TEST_CASE("what a commit through the WAL buffer wrote survives a process that dies without closing", "[store]") {
  smsr::test::TempDir dir;
  const std::string path = dir.file("t.db");
  {
    Db setup(path, nullptr);
    REQUIRE(setup.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(v BLOB)") == SQLITE_OK);
  }
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, smsr::wal_buffer_vfs_name()) != SQLITE_OK) _exit(2);
    if (sqlite3_exec(db, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr) != SQLITE_OK) _exit(3);
    for (int i = 0; i < 20; ++i) {
      if (sqlite3_exec(db, insert_rows(10, 3000).c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) _exit(4);
    }
    // An open transaction that never commits: it must leave nothing visible behind.
    sqlite3_exec(db, ("BEGIN; " + insert_rows(10, 3000)).c_str(), nullptr, nullptr, nullptr);
    _exit(0);  // no close, no flush: as if killed
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  Db after(path, nullptr);
  CHECK(after.count("SELECT count(*) FROM t") == 200);
  CHECK(after.text("PRAGMA integrity_check") == "ok");
}
