// Central sync against a real PostgreSQL cluster started by the test (postgres_fixture),
// with the real binary, a real SQLite file and a fake agent.
#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>

#include <httplib.h>

#include <filesystem>
#include <set>

#include "tests/integration/harness.hpp"
#include "tests/integration/postgres_fixture.hpp"

using namespace smsr;
using namespace smsr::test;
using nlohmann::json;

namespace {

struct SyncFixture {
  PostgresCluster pg;
  TempDir dir;
  FakeAgent agent;
  json config = base_config(dir);
  std::unique_ptr<Service> service;

  SyncFixture() {
    config["agent"]["url"] = agent.url();
    config["sync"]["postgres_url"] = pg.url();
    config["sync"]["interval_s"] = 1;
    config["sync"]["edge_id"] = "edge-a";
    config["limits"]["per_sender_per_minute"] = 1000;  // tests below poll by sending
  }

  void start() {
    service = std::make_unique<Service>(dir, config);
    service->start();
  }

  HttpAnswer send(const std::string& from, const std::string& body) {
    return post_webhook(service->port(), sms_fields({from, body}));
  }

  // Which user's agent a message from `from` reaches now ("" = none; the reply otherwise).
  std::string route(const std::string& from) {
    auto before = agent.count();
    auto answer = send(from, "who gets this");
    if (agent.count() == before) return "";
    return std::to_string(agent.requests().back().body["user"]["id"].get<long long>());
  }

  json health() { return json::parse(http_get(service->port(), "/sms-router/health").body); }

  long long local_count(const std::string& sql) {
    SQLite::Database db(dir.file("router.db"));
    return db.execAndGet(sql).getInt64();
  }
};

}  // namespace

TEST_CASE("users inserted centrally with numbers as typed route to their agent after a sync") {
  SyncFixture f;
  f.pg.exec(
      "INSERT INTO users (id, email, full_name, phone_number, is_active) VALUES "
      "(10, 'ada@example.com', 'Ada', '4388290590', true), (11, 'bob@example.com', 'Bob', '(514) 555-1234', true)");
  f.pg.exec("INSERT INTO user_phone_mappings (user_id, phone_number) VALUES (10, '514.555.0101')");
  f.start();
  CHECK(eventually([&] { return f.route("+14388290590") == "10"; }));
  CHECK(f.route("+15145551234") == "11");
  CHECK(f.route("+15145550101") == "10");
  auto r = f.agent.requests().back().body;
  CHECK(r["user"]["email"] == "ada@example.com");
  CHECK(r["user"]["phone_number"] == "+14388290590");
  CHECK(f.health()["status"] == "ok");
}

TEST_CASE("a first pull of many buckets is applied in several small writes and every user routes") {
  SyncFixture f;
  // One user in each of 40 buckets of 1,024 ids: more than one write may hold.
  std::string values;
  for (int i = 0; i < 40; ++i) {
    const int id = 1 + i * 1024;
    if (!values.empty()) values += ", ";
    values += "(" + std::to_string(id) + ", 'u" + std::to_string(id) + "@x.org', '+1514555" +
              std::to_string(1000 + i) + "', true)";
  }
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES " + values);
  f.start();
  CHECK(eventually([&] { return f.service->log().find("event=sync.round buckets_changed=40 users_applied=40 writes=5") !=
                                std::string::npos; }));
  CHECK(f.local_count("SELECT count(*) FROM users") == 40);
  CHECK(f.route("+15145551000") == "1");
  CHECK(f.route("+15145551039") == std::to_string(1 + 39 * 1024));
}

TEST_CASE("a number moved from one user to another without touching updated_at never routes to the old owner after the sync that saw it") {
  SyncFixture f;
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (1, 'a@x.org', '+15145550001', true), "
            "(2, 'b@x.org', '+15145550002', true)");
  f.pg.exec("INSERT INTO user_phone_mappings (user_id, phone_number) VALUES (1, '+15145550777')");
  f.start();
  REQUIRE(eventually([&] { return f.route("+15145550777") == "1"; }));
  f.pg.exec("UPDATE user_phone_mappings SET user_id = 2 WHERE phone_number = '+15145550777'");
  std::vector<std::string> owners;
  REQUIRE(eventually([&] {
    owners.push_back(f.route("+15145550777"));
    return owners.back() == "2";
  }));
  // Once the sync has seen the move, every later message goes to the new owner.
  for (int i = 0; i < 20; ++i) CHECK(f.route("+15145550777") == "2");
}

TEST_CASE("a central deletion makes the number unknown and a deactivation or NULL is_active makes the user inactive") {
  SyncFixture f;
  f.config["replies"]["inactive_user"] = "paused";
  f.config["limits"]["unknown_sender_replies_per_day"] = 1000;
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (1, 'a@x.org', '+15145550001', true), "
            "(2, 'b@x.org', '+15145550002', true), (3, 'c@x.org', '+15145550003', true)");
  f.start();
  REQUIRE(eventually([&] { return f.route("+15145550003") == "3"; }));
  f.pg.exec("DELETE FROM users WHERE id = 1");
  f.pg.exec("UPDATE users SET is_active = false WHERE id = 2");
  f.pg.exec("UPDATE users SET is_active = NULL WHERE id = 3");
  CHECK(eventually([&] {
    return twiml_message(f.send("+15145550001", "hi").body).value_or("").find("not registered") != std::string::npos;
  }));
  CHECK(eventually([&] { return twiml_message(f.send("+15145550002", "hi").body) == "paused"; }));
  CHECK(eventually([&] { return twiml_message(f.send("+15145550003", "hi").body) == "paused"; }));
}

TEST_CASE("a number claimed centrally by two users reaches no agent and shows as ambiguous") {
  SyncFixture f;
  f.config["replies"]["error"] = "cannot route";
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (1, 'a@x.org', '+15145550001', true), "
            "(2, 'b@x.org', '+15145550002', true)");
  // The same number stored in two formats: equal only once normalised.
  f.pg.exec("INSERT INTO user_phone_mappings (user_id, phone_number) VALUES (1, '5145550777'), (2, '+1 514 555 0777')");
  f.start();
  REQUIRE(eventually([&] { return f.route("+15145550001") == "1"; }));
  CHECK(twiml_message(f.send("+15145550777", "whose?").body) == "cannot route");
  CHECK(f.service->cli({"users", "show", "+15145550777"}).out.find("AMBIGUOUS") != std::string::npos);
}

TEST_CASE("active central settings override the file at run time and inactive ones do not") {
  SyncFixture f;
  f.config["limits"]["per_sender_per_minute"] = 100;
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (1, 'a@x.org', '+15145550001', true)");
  f.pg.exec("INSERT INTO sms_router_configs (config_key, config_value, is_active) VALUES "
            "('rate_limit_per_minute', '2', true), ('replies.unknown_sender', 'central says hi', true), "
            "('replies.error', 'never', false)");
  f.start();
  REQUIRE(eventually([&] {
    return twiml_message(f.send("+15145559999", "?").body) == "central says hi" ||
           f.service->log().find("sync.settings_applied") != std::string::npos;
  }));
  REQUIRE(eventually([&] { return f.route("+15145550001") == "1"; }));
  // Two forwarded per minute: everything after is stored but not forwarded.
  f.route("+15145550001");
  auto before = f.agent.count();
  for (int i = 0; i < 3; ++i) f.send("+15145550001", "more");
  CHECK(f.agent.count() == before);
  CHECK(f.local_count("SELECT count(*) FROM inbound_messages WHERE outcome = 'rate_limited'") >= 3);
}

TEST_CASE("usage logs land in the central table exactly once across restarts of the router and of PostgreSQL") {
  SyncFixture f;
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (1, 'a@x.org', '+15145550001', true)");
  f.start();
  REQUIRE(eventually([&] { return f.route("+15145550001") == "1"; }));
  for (int i = 0; i < 5; ++i) f.send("+15145550001", "m" + std::to_string(i));
  f.send("+15145559999", "stranger");  // an unknown sender: user_id NULL
  auto local_logs = [&] { return f.local_count("SELECT count(*) FROM usage_logs"); };
  auto central_logs = [&] { return f.pg.query_int("SELECT count(*) FROM sms_usage_logs"); };
  REQUIRE(eventually([&] { return central_logs() == local_logs(); }, std::chrono::seconds(15)));

  f.service->stop();
  f.service->start();
  f.send("+15145550001", "after router restart");
  f.pg.stop();
  f.send("+15145550001", "while central is down");
  f.pg.start();
  REQUIRE(eventually([&] { return central_logs() == local_logs(); }, std::chrono::seconds(30)));
  CHECK(f.pg.query_int("SELECT count(*) FROM (SELECT sms_metadata->>'local_id' FROM sms_usage_logs "
                       "GROUP BY 1 HAVING count(*) > 1) d") == 0);
  // Unknown senders (the stranger, and polls before the first sync) keep user_id NULL.
  CHECK(f.pg.query_int("SELECT count(*) FROM sms_usage_logs WHERE user_id IS NULL") ==
        f.local_count("SELECT count(*) FROM usage_logs WHERE user_id IS NULL"));
  CHECK(f.local_count("SELECT count(*) FROM usage_logs WHERE user_id IS NULL") >= 2);
  CHECK(f.pg.query_int("SELECT count(*) FROM sms_usage_logs WHERE sms_metadata->>'edge_id' = 'edge-a'") ==
        local_logs());
  CHECK(f.local_count("SELECT count(*) FROM usage_logs WHERE pushed_ms IS NULL") == 0);
}

TEST_CASE("a crash between the central commit and the local mark causes no duplicate") {
  SyncFixture f;
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (1, 'a@x.org', '+15145550001', true)");
  // No service: the CLI syncs; messages are recorded by a service that ran before.
  f.config["sync"]["postgres_url"] = "";  // standalone while the messages arrive
  f.start();
  REQUIRE(f.service->cli({"users", "add", "--id", "1", "--phone", "+15145550001"}).status == 0);
  for (int i = 0; i < 4; ++i) f.send("+15145550001", "m" + std::to_string(i));
  f.service->stop();
  f.config["sync"]["postgres_url"] = f.pg.url();
  Service synced(f.dir, f.config);

  auto crashed = run_cli({"--config", synced.config_path(), "sync", "--once"},
                         {{"SMSR_TEST_CRASH_POINT", "after_central_commit"}});
  CHECK(crashed.status == 137);
  auto local_total = f.local_count("SELECT count(*) FROM usage_logs");
  CHECK(f.pg.query_int("SELECT count(*) FROM sms_usage_logs") == local_total);  // committed centrally
  CHECK(f.local_count("SELECT count(*) FROM usage_logs WHERE pushed_ms IS NULL") == local_total);  // not marked

  auto again = run_cli({"--config", synced.config_path(), "sync", "--once"});
  CHECK(again.status == 0);
  CHECK(f.pg.query_int("SELECT count(*) FROM sms_usage_logs") == local_total);  // no duplicate
  CHECK(f.local_count("SELECT count(*) FROM usage_logs WHERE pushed_ms IS NULL") == 0);
}

TEST_CASE("with PostgreSQL stopped routing continues from local data and health is degraded until it returns") {
  SyncFixture f;
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (1, 'a@x.org', '+15145550001', true)");
  f.start();
  REQUIRE(eventually([&] { return f.route("+15145550001") == "1"; }));
  REQUIRE(eventually([&] { return f.health()["status"] == "ok"; }));
  f.pg.stop();
  CHECK(f.route("+15145550001") == "1");
  CHECK(eventually([&] { return f.health()["status"] == "degraded"; }, std::chrono::seconds(20)));
  auto h = f.health();
  CHECK(h["sync"]["last_error"].is_string());
  CHECK(h["sync"]["last_success"].is_string());
  CHECK(f.route("+15145550001") == "1");
  f.pg.start();
  CHECK(eventually([&] { return f.health()["status"] == "ok"; }, std::chrono::seconds(30)));
}

TEST_CASE("with PostgreSQL frozen routing is unaffected and the sync thread gives up within its deadline and recovers after it thaws") {
  SyncFixture f;
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (1, 'a@x.org', '+15145550001', true)");
  f.start();
  REQUIRE(eventually([&] { return f.route("+15145550001") == "1"; }));
  f.pg.freeze();
  for (int i = 0; i < 5; ++i) CHECK(f.route("+15145550001") == "1");
  // The deadline for a 1 s interval is 10 s: the round in progress fails, health says so.
  CHECK(eventually([&] { return f.health()["status"] == "degraded"; }, std::chrono::seconds(40)));
  CHECK(f.route("+15145550001") == "1");
  f.pg.thaw();
  CHECK(eventually([&] { return f.health()["status"] == "ok"; }, std::chrono::seconds(40)));
}

TEST_CASE("usage logs are pruned locally only after they were pushed and once older than the retention") {
  SyncFixture f;
  f.config["sync"]["log_retention_days"] = 1;
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (1, 'a@x.org', '+15145550001', true)");
  Service synced(f.dir, f.config);  // writes the configuration; not started
  REQUIRE(run_cli({"--config", synced.config_path(), "migrate"}).status == 0);
  {
    SQLite::Database db(f.dir.file("router.db"), SQLite::OPEN_READWRITE);
    const long long three_days_ago = (std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch()) -
                                      std::chrono::hours(72))
                                         .count();
    for (int i = 0; i < 3; ++i) {
      db.exec("INSERT INTO usage_logs (phone_number, message_direction, message_length, message_content, created_ms) "
              "VALUES ('+15145550001', 'inbound', 3, 'old', " + std::to_string(three_days_ago) + ")");
    }
    db.exec("INSERT INTO usage_logs (phone_number, message_direction, message_length, message_content, created_ms) "
            "VALUES ('+15145550001', 'inbound', 3, 'new', " + std::to_string(three_days_ago + 72LL * 3600 * 1000) + ")");
  }
  auto r = run_cli({"--config", synced.config_path(), "sync", "--once"});
  REQUIRE(r.status == 0);
  // Pushed first (all four are central now), then the old ones deleted locally.
  CHECK(f.pg.query_int("SELECT count(*) FROM sms_usage_logs") == 4);
  CHECK(f.local_count("SELECT count(*) FROM usage_logs") == 1);
  CHECK(f.local_count("SELECT count(*) FROM usage_logs WHERE message_content = 'new'") == 1);
}

TEST_CASE("with notifications installed a central change takes effect within seconds and still after the listener connection is dropped") {
  SyncFixture f;
  f.config["sync"]["interval_s"] = 30;  // polling alone would take up to a minute
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (1, 'a@x.org', '+15145550001', true)");
  Service cli_config(f.dir, f.config);
  auto installed = run_cli({"--config", cli_config.config_path(), "sync", "install-notify"});
  REQUIRE(installed.status == 0);
  CHECK(f.pg.query_int("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'sms_router_%'") == 3);
  f.start();
  REQUIRE(eventually([&] { return f.route("+15145550001") == "1"; }));

  auto started = std::chrono::steady_clock::now();
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (2, 'b@x.org', '+15145550002', true)");
  CHECK(eventually([&] { return f.route("+15145550002") == "2"; }, std::chrono::seconds(10)));
  // Far less than the 30 s interval: it was the notification.
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));

  f.pg.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sms-router-listener'");
  f.pg.exec("UPDATE users SET is_active = false WHERE id = 2");
  CHECK(eventually([&] { return f.route("+15145550002").empty(); }, std::chrono::seconds(15)));

  REQUIRE(run_cli({"--config", cli_config.config_path(), "sync", "uninstall-notify"}).status == 0);
  CHECK(f.pg.query_int("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'sms_router_%'") == 0);
  CHECK(f.pg.query_int("SELECT count(*) FROM pg_class WHERE relname = 'sms_router_changes'") == 0);
}

TEST_CASE("POST admin sync runs a round at once and the metrics count sync rounds") {
  SyncFixture f;
  const std::string admin_token = "admin-token-0123456789abcdef0123456789";
  f.config["admin"]["token"] = admin_token;
  f.config["sync"]["interval_s"] = 30;
  f.start();
  REQUIRE(eventually([&] { return f.health()["sync"]["runs"].get<int>() >= 1; }));
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (7, 'g@x.org', '+15145550007', true)");

  auto client = service_client(f.service->port());
  auto res = client->Post("/sms-router/admin/sync", {{"Authorization", "Bearer " + admin_token}}, "", "application/json");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(eventually([&] { return f.route("+15145550007") == "7"; }, std::chrono::seconds(10)));

  auto metrics = http_get(f.service->port(), "/sms-router/metrics").body;
  CHECK(metrics.find("sms_router_sync_runs_total 0\n") == std::string::npos);
  CHECK(metrics.find("sms_router_sync_runs_total") != std::string::npos);
  // With sync configured, the admin API refuses user writes: the central database owns users.
  auto write = client->Post("/sms-router/admin/users", {{"Authorization", "Bearer " + admin_token}},
                           R"({"email":"x@x.org","phone_number":"+15145550008"})", "application/json");
  REQUIRE(write);
  CHECK(write->status == 409);
}

TEST_CASE("a local database restored from an older backup pushes its new logs instead of taking them for resends") {
  SyncFixture f;
  f.pg.exec("INSERT INTO users (id, email, phone_number, is_active) VALUES (1, 'a@x.org', '+15145550001', true)");
  f.config["sync"]["postgres_url"] = "";  // record logs standalone first
  f.start();
  REQUIRE(f.service->cli({"users", "add", "--id", "1", "--phone", "+15145550001"}).status == 0);
  f.send("+15145550001", "before the backup");
  f.service->stop();
  std::filesystem::copy_file(f.dir.file("router.db"), f.dir.file("backup.db"));
  f.service->start();
  for (int i = 0; i < 3; ++i) f.send("+15145550001", "after the backup " + std::to_string(i));
  f.service->stop();
  f.config["sync"]["postgres_url"] = f.pg.url();
  Service synced(f.dir, f.config);
  REQUIRE(run_cli({"--config", synced.config_path(), "sync", "--once"}).status == 0);
  auto pushed_before_restore = f.pg.query_int("SELECT count(*) FROM sms_usage_logs");

  // Restore the backup (service stopped), then new messages reuse the backup's log ids.
  std::filesystem::copy_file(f.dir.file("backup.db"), f.dir.file("router.db"),
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove(f.dir.file("router.db-wal"));
  std::filesystem::remove(f.dir.file("router.db-shm"));
  REQUIRE(run_cli({"--config", synced.config_path(), "sync", "--once"}).status == 0);
  f.config["sync"]["postgres_url"] = "";
  Service standalone(f.dir, f.config);
  standalone.start();
  post_webhook(standalone.port(), sms_fields({"+15145550001", "after the restore"}));
  standalone.stop();
  auto local_unpushed = f.local_count("SELECT count(*) FROM usage_logs WHERE pushed_ms IS NULL");
  REQUIRE(local_unpushed >= 2);
  REQUIRE(run_cli({"--config", synced.config_path(), "sync", "--once"}).status == 0);
  CHECK(f.pg.query_int("SELECT count(*) FROM sms_usage_logs WHERE message_content = 'after the restore'") == 1);
  // Exactly the new logs were added: none of the restored (already pushed) ones again.
  CHECK(f.pg.query_int("SELECT count(*) FROM sms_usage_logs") == pushed_before_restore + local_unpushed);
  CHECK(f.pg.query_int("SELECT count(*) FROM (SELECT message_content, created_at FROM sms_usage_logs "
                       "GROUP BY 1, 2 HAVING count(*) > 1) d") == 0);
}
