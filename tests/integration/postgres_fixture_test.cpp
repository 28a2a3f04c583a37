// The PostgreSQL test fixture itself: a real server comes up with the organisation's
// tables, keeps its data across a restart, can be frozen and thawed, and leaves nothing
// behind. Sync tests rely on every one of these.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "tests/integration/harness.hpp"
#include "tests/integration/postgres_fixture.hpp"

using namespace smsr::test;

namespace {

struct ColumnSpec {
  std::string name;
  std::string type;        // as information_schema.columns.data_type spells it
  std::string max_length;  // character_maximum_length, "NULL" when unbounded or n/a
  bool nullable;
};

constexpr const char* kVarchar = "character varying";
constexpr const char* kTimestamp = "timestamp without time zone";

// column name -> {data_type, character_maximum_length, is_nullable, column_default}
std::map<std::string, std::vector<std::string>> columns_of(const PostgresCluster& pg, const std::string& table) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& row : pg.query_rows(
           "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default "
           "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '" +
           table + "'")) {
    out[row[0]] = {row[1], row[2], row[3], row[4]};
  }
  return out;
}

void require_columns(const PostgresCluster& pg, const std::string& table, const std::vector<ColumnSpec>& specs) {
  auto columns = columns_of(pg, table);
  for (const auto& spec : specs) {
    INFO(table << "." << spec.name);
    REQUIRE(columns.count(spec.name) == 1);
    const auto& column = columns[spec.name];
    CHECK(column[0] == spec.type);
    CHECK(column[1] == spec.max_length);
    CHECK(column[2] == (spec.nullable ? "YES" : "NO"));
  }
}

// Where a process is gone for good: no /proc entry, or a zombie waiting to be reaped.
bool process_gone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return true;
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

pid_t postmaster_of(const PostgresCluster& pg) {
  std::ifstream in(pg.directory() + "/data/postmaster.pid");
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

}  // namespace

TEST_CASE("A PostgreSQL cluster starts on a loopback port and serves the central database") {
  PostgresCluster pg;
  CHECK(pg.port() > 0);
  CHECK(pg.url() == "postgresql://postgres@127.0.0.1:" + std::to_string(pg.port()) + "/central");
  CHECK(pg.query_int("SELECT 1") == 1);
  CHECK(pg.query_rows("SELECT current_database(), current_setting('fsync')") ==
        std::vector<std::vector<std::string>>{{"central", "off"}});
  CHECK(pg.query_rows("SELECT NULL::text") == std::vector<std::vector<std::string>>{{PostgresCluster::kNull}});
  CHECK(pg.server_log().find("database system is ready to accept connections") != std::string::npos);
  if (::geteuid() == 0) {
    // PostgreSQL refuses to run as root: the cluster must belong to someone else.
    struct stat st {};
    REQUIRE(::stat(pg.directory().c_str(), &st) == 0);
    CHECK(st.st_uid != 0);
  }
}

TEST_CASE("The central tables have the columns the specification lists, plus some the router ignores") {
  PostgresCluster pg;

  require_columns(pg, "users",
                  {{"id", "integer", "NULL", false},
                   {"email", kVarchar, "NULL", false},
                   {"full_name", kVarchar, "NULL", true},
                   {"phone_number", kVarchar, "20", true},
                   {"is_active", "boolean", "NULL", true},
                   {"created_at", kTimestamp, "NULL", true},
                   {"updated_at", kTimestamp, "NULL", true},
                   {"password_hash", kVarchar, "NULL", true},
                   {"last_login", kTimestamp, "NULL", true}});
  require_columns(pg, "user_phone_mappings",
                  {{"id", "integer", "NULL", false},
                   {"user_id", "integer", "NULL", false},
                   {"phone_number", kVarchar, "20", false},
                   {"is_primary", "boolean", "NULL", true},
                   {"is_verified", "boolean", "NULL", true},
                   {"verification_method", kVarchar, "50", true},
                   {"created_at", kTimestamp, "NULL", true},
                   {"updated_at", kTimestamp, "NULL", true}});
  require_columns(pg, "sms_usage_logs",
                  {{"id", "integer", "NULL", false},
                   {"user_id", "integer", "NULL", true},
                   {"phone_number", kVarchar, "20", false},
                   {"message_direction", kVarchar, "10", false},
                   {"message_length", "integer", "NULL", false},
                   {"message_content", "text", "NULL", true},
                   {"success", "boolean", "NULL", true},
                   {"processing_time_ms", "integer", "NULL", true},
                   {"error_message", "text", "NULL", true},
                   {"sms_metadata", "json", "NULL", true},
                   {"created_at", kTimestamp, "NULL", true},
                   {"twilio_message_sid", kVarchar, "50", true},
                   {"final_status", kVarchar, "20", true}});
  require_columns(pg, "sms_router_configs",
                  {{"id", "integer", "NULL", false},
                   {"config_key", kVarchar, "100", false},
                   {"config_value", "text", "NULL", false},
                   {"description", "text", "NULL", true},
                   {"is_active", "boolean", "NULL", true},
                   {"created_at", kTimestamp, "NULL", true},
                   {"updated_at", kTimestamp, "NULL", true}});

  SECTION("constraints and defaults behave as in the organisation's database") {
    pg.exec("INSERT INTO users (email, phone_number) VALUES ('ada@example.org', '4388290590')");
    CHECK_THROWS_AS(pg.exec("INSERT INTO users (email) VALUES ('ada@example.org')"), pqxx::unique_violation);
    CHECK_THROWS_AS(pg.exec("INSERT INTO users (email, phone_number) VALUES ('bob@example.org', '4388290590')"),
                    pqxx::unique_violation);
    CHECK_THROWS_AS(pg.exec("INSERT INTO user_phone_mappings (user_id, phone_number) VALUES (999, '+15145550101')"),
                    pqxx::foreign_key_violation);
    CHECK_THROWS_AS(pg.exec("INSERT INTO sms_usage_logs (phone_number, message_direction, message_length) "
                            "VALUES ('+15145550101', 'sideways', 3)"),
                    pqxx::check_violation);
    CHECK_THROWS_AS(pg.exec("INSERT INTO sms_usage_logs (phone_number, message_direction, message_length, "
                            "final_status) VALUES ('+15145550101', 'inbound', 3, 'lost')"),
                    pqxx::check_violation);
    pg.exec("INSERT INTO sms_usage_logs (phone_number, message_direction, message_length) "
            "VALUES ('+15145550101', 'inbound', 3)");
    CHECK(pg.query_rows("SELECT user_id, success, final_status FROM sms_usage_logs") ==
          std::vector<std::vector<std::string>>{{PostgresCluster::kNull, "t", "unknown"}});

    pg.seed_organisation_configs();
    CHECK(pg.query_int("SELECT count(*) FROM sms_router_configs WHERE is_active") == 8);
    CHECK(pg.query_rows("SELECT config_value FROM sms_router_configs WHERE config_key = 'rate_limit_per_minute'") ==
          std::vector<std::vector<std::string>>{{"10"}});
    CHECK_THROWS_AS(pg.exec("INSERT INTO sms_router_configs (config_key, config_value) VALUES ('spam_threshold', '1')"),
                    pqxx::unique_violation);
  }
}

TEST_CASE("A row written through url() with libpqxx can be read back") {
  PostgresCluster pg;
  {
    pqxx::connection conn(pg.url());
    pqxx::work tx(conn);
    auto r = tx.exec_params("INSERT INTO users (email, full_name, phone_number, is_active) "
                            "VALUES ($1, $2, $3, true) RETURNING id",
                            "ada@example.org", "Ada Lovelace", "(514) 555-1234");
    REQUIRE(r.size() == 1);
    tx.commit();
  }
  CHECK(pg.query_rows("SELECT email, full_name, phone_number, is_active, password_hash FROM users") ==
        std::vector<std::vector<std::string>>{
            {"ada@example.org", "Ada Lovelace", "(514) 555-1234", "t", PostgresCluster::kNull}});

  pqxx::connection conn(pg.url());
  pqxx::read_transaction tx(conn);
  auto r = tx.exec_params("SELECT full_name FROM users WHERE email = $1", "ada@example.org");
  REQUIRE(r.size() == 1);
  CHECK(r[0][0].as<std::string>() == "Ada Lovelace");
}

TEST_CASE("Data survives stop() and start() on the same port") {
  PostgresCluster pg;
  pg.exec("INSERT INTO sms_router_configs (config_key, config_value) VALUES ('cache_ttl_seconds', '3600')");
  const int port = pg.port();

  pg.stop();
  CHECK_FALSE(pg.running());
  CHECK_THROWS_AS(pqxx::connection(pg.url() + "?connect_timeout=2"), pqxx::broken_connection);

  pg.start();
  CHECK(pg.running());
  CHECK(pg.port() == port);
  CHECK(pg.query_rows("SELECT config_value FROM sms_router_configs WHERE config_key = 'cache_ttl_seconds'") ==
        std::vector<std::vector<std::string>>{{"3600"}});
}

TEST_CASE("freeze() makes new connections time out and thaw() makes them work again") {
  PostgresCluster pg;
  // libpq treats any connect_timeout below 2 s as 2 s.
  const std::string url = pg.url() + "?connect_timeout=1";

  pg.freeze();
  auto began = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(pqxx::connection(url), pqxx::broken_connection);
  CHECK(std::chrono::steady_clock::now() - began < std::chrono::seconds(5));

  pg.thaw();
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  CHECK(tx.exec("SELECT 42")[0][0].as<int>() == 42);
}

TEST_CASE("Destroying a cluster, even a frozen one, stops its server and removes its directory") {
  std::string directory;
  pid_t postmaster = 0;
  {
    PostgresCluster pg;
    directory = pg.directory();
    postmaster = postmaster_of(pg);
    REQUIRE(postmaster > 1);
    REQUIRE_FALSE(process_gone(postmaster));
    pg.freeze();
  }
  CHECK(eventually([&] { return process_gone(postmaster); }, std::chrono::seconds(5)));
  CHECK_FALSE(std::filesystem::exists(directory));
}
