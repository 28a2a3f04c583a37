// The operator-facing endpoints end to end: GET /sms-router/metrics and the admin API
// (lookup, stats, usage, sync, users), against the real binary, a real SQLite file, a fake
// agent and a fake Twilio REST API that are real HTTP servers.
#include <SQLiteCpp/Database.h>

#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace smsr;
using namespace smsr::test;
using nlohmann::json;

namespace {

constexpr const char* kAdminToken = "admin-token-for-admin-api-tests-0123456789";
constexpr const char* kAgentToken = "agent-token-for-admin-api-tests-42";
constexpr const char* kSecondaryAuthToken = "secondary-auth-token-for-rotation-77";
constexpr const char* kMetricsPath = "/sms-router/metrics";

struct Answer {
  int status = 0;
  json body;         // parsed JSON, or discarded
  std::string text;  // as received
  std::string content_type;
};

// One request with the given Authorization header ("" = none).
Answer request(int port, const std::string& method, const std::string& path, const std::string& body,
               const std::string& authorization) {
  auto connection = service_client(port);
  httplib::Client& client = *connection;
  client.set_read_timeout(30, 0);
  client.set_url_encode(false);  // paths are written encoded, or deliberately not
  httplib::Headers headers;
  if (!authorization.empty()) headers.emplace("Authorization", authorization);
  httplib::Result res{nullptr, httplib::Error::Unknown};
  if (method == "GET") res = client.Get(path, headers);
  if (method == "POST") res = client.Post(path, headers, body, "application/json");
  if (method == "PUT") res = client.Put(path, headers, body, "application/json");
  if (method == "DELETE") res = client.Delete(path, headers, body, "application/json");
  if (!res) return {0, json(), "connection failed", ""};
  return {res->status, json::parse(res->body, nullptr, false), res->body, res->get_header_value("Content-Type")};
}

// Prometheus samples: "name{labels}" -> value.
std::map<std::string, double> parse_metrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

struct Fixture {
  TempDir dir;
  FakeAgent agent;
  FakeTwilio twilio;
  json config = base_config(dir);
  std::unique_ptr<Service> service;

  Fixture() {
    config["agent"]["url"] = agent.url();
    config["agent"]["token"] = kAgentToken;
    config["admin"]["token"] = kAdminToken;
    config["twilio"]["api_base_url"] = twilio.url();
    config["twilio"]["secondary_auth_token"] = kSecondaryAuthToken;
    config["limits"]["unknown_sender_replies_per_day"] = 100;
  }

  // Creates Ada (two numbers) and Bob through the CLI, then starts the service.
  void start() {
    service = std::make_unique<Service>(dir, config);
    REQUIRE(service->cli({"users", "add", "--id", "1", "--phone", kAda, "--phone", kAdaSecond, "--email",
                          "ada@example.com", "--name", "Ada"}).status == 0);
    REQUIRE(service->cli({"users", "add", "--id", "2", "--phone", kBob, "--email", "bob@example.com"}).status == 0);
    service->start();
  }

  Answer admin(const std::string& method, const std::string& path, const json& body = json()) {
    return request(service->port(), method, path, body.is_null() ? "" : body.dump(),
                   std::string("Bearer ") + kAdminToken);
  }
  Answer get(const std::string& path) { return admin("GET", path); }

  HttpAnswer send(const Sms& sms) { return post_webhook(service->port(), sms_fields(sms)); }

  std::map<std::string, double> metrics() {
    auto answer = http_get(service->port(), kMetricsPath);
    REQUIRE(answer.status == 200);
    return parse_metrics(answer.body);
  }

  void sql(const std::string& statement) {
    SQLite::Database db(dir.file("router.db"), SQLite::OPEN_READWRITE);
    db.exec(statement);
  }
};

std::string webhooks(const std::string& outcome) { return "sms_router_webhooks_total{outcome=\"" + outcome + "\"}"; }

}  // namespace

TEST_CASE("every admin endpoint answers 401 without the right bearer token and 403 while admin.token is unset") {
  Fixture f;
  f.start();
  int port = f.service->port();
  const std::vector<std::pair<std::string, std::string>> endpoints = {
      {"GET", "/sms-router/admin/lookup?phone=%2B15145550101"},
      {"GET", "/sms-router/admin/stats"},
      {"GET", "/sms-router/admin/usage"},
      {"POST", "/sms-router/admin/sync"},
      {"GET", "/sms-router/admin/users"},
      {"POST", "/sms-router/admin/users"},
      {"GET", "/sms-router/admin/users/1"},
      {"PUT", "/sms-router/admin/users/1"},
      {"DELETE", "/sms-router/admin/users/1"},
      {"POST", "/sms-router/admin/users/1/phones"},
      {"DELETE", "/sms-router/admin/users/1/phones/%2B15145550102"}};
  for (const auto& [method, path] : endpoints) {
    INFO(method << " " << path);
    for (const std::string& authorization :
         {std::string(), std::string("Bearer wrong-token-wrong-token-wrong-token-00"), std::string(kAdminToken),
          std::string("Basic ") + kAdminToken}) {
      auto answer = request(port, method, path, "{}", authorization);
      CHECK(answer.status == 401);
      CHECK(answer.body.value("error", "") == "missing or wrong bearer token");
    }
  }
  // Nothing was changed by the refused writes.
  CHECK(f.get("/sms-router/admin/users/1").status == 200);
  CHECK(f.get("/sms-router/admin/users/1").body["extra_phone_numbers"] == json::array({kAdaSecond}));

  f.service->stop();
  f.config["admin"].erase("token");
  f.service = std::make_unique<Service>(f.dir, f.config);
  f.service->start();
  for (const auto& [method, path] : endpoints) {
    INFO(method << " " << path);
    auto answer = request(f.service->port(), method, path, "{}", std::string("Bearer ") + kAdminToken);
    CHECK(answer.status == 403);
    CHECK(answer.body.value("error", "").find("admin.token") != std::string::npos);
  }
}

TEST_CASE("lookup names the owner of a primary number and of an extra number, and nobody for an unknown number") {
  Fixture f;
  f.start();
  auto primary = f.get("/sms-router/admin/lookup?phone=%2B15145550101");
  REQUIRE(primary.status == 200);
  CHECK(primary.content_type.find("application/json") == 0);
  CHECK(primary.body == json{{"input", kAda}, {"e164", kAda}, {"user_id", 1}, {"source", "primary"},
                             {"active", true}, {"ambiguous", false}});

  // National format, and a '+' left unencoded in the query (it arrives as a space).
  auto mapping = f.get("/sms-router/admin/lookup?phone=(514)%20555-0102");
  REQUIRE(mapping.status == 200);
  CHECK(mapping.body["input"] == "(514) 555-0102");
  CHECK(mapping.body["e164"] == kAdaSecond);
  CHECK(mapping.body["user_id"] == 1);
  CHECK(mapping.body["source"] == "mapping");
  CHECK(f.get("/sms-router/admin/lookup?phone=+15145550201").body["user_id"] == 2);

  REQUIRE(f.service->cli({"users", "disable", "2"}).status == 0);
  CHECK(f.get("/sms-router/admin/lookup?phone=%2B15145550201").body["active"] == false);

  auto unknown = f.get("/sms-router/admin/lookup?phone=%2B15145550999");
  REQUIRE(unknown.status == 200);
  CHECK(unknown.body == json{{"input", kStranger}, {"e164", kStranger}, {"user_id", nullptr}, {"source", nullptr},
                             {"active", nullptr}, {"ambiguous", false}});
}

TEST_CASE("lookup refuses with 400 a value that is not a phone number, or none") {
  Fixture f;
  f.start();
  for (const char* path : {"/sms-router/admin/lookup?phone=ACME", "/sms-router/admin/lookup?phone=12",
                           "/sms-router/admin/lookup?phone=", "/sms-router/admin/lookup"}) {
    INFO(path);
    auto answer = f.get(path);
    CHECK(answer.status == 400);
    CHECK(answer.body.value("error", "").rfind("phone: ", 0) == 0);
  }
  CHECK(f.get("/sms-router/admin/lookup?phone=ACME").body["error"] ==
        "phone: \"ACME\" is not a phone number (region US)");
}

TEST_CASE("a number claimed by two users looks up as ambiguous with its claimants and shows in stats and metrics") {
  Fixture f;
  f.start();
  f.sql("INSERT INTO phone_mappings (user_id, phone_number, created_ms) VALUES (1, '+15145550777', 0)");
  f.sql("INSERT INTO phone_mappings (user_id, phone_number, created_ms) VALUES (2, '+15145550777', 0)");
  auto answer = f.get("/sms-router/admin/lookup?phone=%2B15145550777");
  REQUIRE(answer.status == 200);
  CHECK(answer.body["user_id"].is_null());
  CHECK(answer.body["source"].is_null());
  CHECK(answer.body["ambiguous"] == true);
  CHECK(answer.body["claimants"] == json::array({1, 2}));
  CHECK(f.get("/sms-router/admin/stats").body["ambiguous_numbers"] == json::array({"+15145550777"}));
  CHECK(f.metrics()["sms_router_ambiguous_numbers"] == 1);
}

TEST_CASE("stats count users, mappings, messages by outcome, queues and the cache after some webhooks") {
  Fixture f;
  f.start();
  auto before = f.get("/sms-router/admin/stats");
  REQUIRE(before.status == 200);
  CHECK(before.body["messages"]["by_outcome"] == json::object());

  REQUIRE(twiml_message(f.send({kAda, "one"}).body) == "agent 1: one");
  REQUIRE(twiml_message(f.send({kAdaSecond, "two"}).body) == "agent 1: two");
  REQUIRE(f.send({kStranger, "who"}).status == 200);
  REQUIRE(f.send({kBob, "STOP"}).status == 200);

  auto stats = f.get("/sms-router/admin/stats");
  REQUIRE(stats.status == 200);
  const json& s = stats.body;
  CHECK(s["users"] == 2);
  CHECK(s["active_users"] == 2);
  CHECK(s["mappings"] == 1);
  CHECK(s["messages"]["by_outcome"] == json{{"routed", 2}, {"unknown", 1}, {"opt_out", 1}});
  CHECK(s["messages"]["pending_agent"] == 0);
  CHECK(s["queue"]["agent"].is_number_integer());
  CHECK(s["queue"]["outbound"].is_number_integer());
  CHECK(s["cache"]["hits"].get<long long>() + s["cache"]["misses"].get<long long>() == 4);
  CHECK(s["cache"]["entries"] == 4);
  CHECK(s["ambiguous_numbers"] == json::array());
  CHECK(s["sync"] == json{{"enabled", false}});
}

TEST_CASE("usage returns rows newest first, filtered by user and since, at most limit") {
  Fixture f;
  f.start();
  REQUIRE(f.send({kAda, "first"}).status == 200);
  REQUIRE(f.send({kBob, "bob"}).status == 200);
  REQUIRE(f.send({kStranger, "stranger"}).status == 200);

  auto all = f.get("/sms-router/admin/usage");
  REQUIRE(all.status == 200);
  const json& rows = all.body["usage_logs"];
  // Each message: the inbound row and its reply (the stranger's reply is the unknown-sender text).
  REQUIRE(rows.size() == 6);
  CHECK(all.body["count"] == 6);
  CHECK(all.body["limit"] == 100);
  for (std::size_t i = 1; i < rows.size(); ++i) {
    CHECK(rows[i - 1]["id"].get<long long>() > rows[i]["id"].get<long long>());
  }
  CHECK(rows.back()["message_direction"] == "inbound");
  CHECK(rows.back()["message_content"] == "first");
  CHECK(rows.back()["user_id"] == 1);
  CHECK(rows.back()["phone_number"] == kAda);
  CHECK(rows.back()["sms_metadata"] == json{{"outcome", "routed"}, {"segments", 1}, {"num_media", 0}});
  CHECK(rows.back()["created_at"].get<std::string>().back() == 'Z');

  auto ada = f.get("/sms-router/admin/usage?user_id=1");
  REQUIRE(ada.body["usage_logs"].size() == 2);
  for (const auto& row : ada.body["usage_logs"]) CHECK(row["user_id"] == 1);
  CHECK(ada.body["usage_logs"][0]["message_content"] == "agent 1: first");

  CHECK(f.get("/sms-router/admin/usage?limit=1").body["usage_logs"].size() == 1);
  CHECK(f.get("/sms-router/admin/usage?limit=1000&user_id=").body["usage_logs"].size() == 6);

  long long newest_ms = rows.front()["created_ms"].get<long long>();
  CHECK(f.get("/sms-router/admin/usage?since=" + std::to_string(newest_ms + 1)).body["usage_logs"].empty());
  CHECK(f.get("/sms-router/admin/usage?since=" + std::to_string(newest_ms)).body["usage_logs"].size() >= 1);
  CHECK(f.get("/sms-router/admin/usage?since=2020-01-01T00:00:00Z").body["usage_logs"].size() == 6);
  CHECK(f.get("/sms-router/admin/usage?since=2020-01-01").body["usage_logs"].size() == 6);
  CHECK(f.get("/sms-router/admin/usage?since=2999-01-01T00:00:00.000%2B02:00").body["usage_logs"].empty());
  CHECK(f.get("/sms-router/admin/usage?since=2999-01-01T00:00:00+02:00").body["usage_logs"].empty());
}

TEST_CASE("usage refuses a bad parameter with 400 naming it") {
  Fixture f;
  f.start();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"user_id=abc", "user_id"},  {"user_id=-1", "user_id"},      {"user_id=0", "user_id"},
      {"since=yesterday", "since"}, {"since=2026-13-01", "since"}, {"since=2026-02-30T00:00:00Z", "since"},
      {"since=2026-01-01T25:00:00Z", "since"}, {"limit=0", "limit"}, {"limit=1001", "limit"},
      {"limit=ten", "limit"},      {"limit=-5", "limit"}};
  for (const auto& [query, parameter] : cases) {
    INFO(query);
    auto answer = f.get("/sms-router/admin/usage?" + query);
    CHECK(answer.status == 400);
    CHECK(answer.body.value("error", "").rfind(parameter + ": ", 0) == 0);
    CHECK(answer.text.find('\n') == std::string::npos);  // one line
  }
}

TEST_CASE("POST /sms-router/admin/sync answers 409 while sync is not configured") {
  Fixture f;
  f.start();
  auto answer = f.admin("POST", "/sms-router/admin/sync", json::object());
  CHECK(answer.status == 409);
  CHECK(answer.body == json{{"error", "sync is not configured (sync.postgres_url is empty)"}});
}

TEST_CASE("a user can be created, read, listed, updated, given and relieved of numbers, and deleted") {
  Fixture f;
  f.start();
  auto created = f.admin("POST", "/sms-router/admin/users",
                         {{"email", "cy@example.com"},
                          {"full_name", "Cy"},
                          {"phone_number", "(514) 555-0301"},
                          {"extra_phone_numbers", {"514.555.0302"}}});
  REQUIRE(created.status == 201);
  const json expected = {{"id", 3},
                         {"email", "cy@example.com"},
                         {"full_name", "Cy"},
                         {"phone_number", "+15145550301"},
                         {"extra_phone_numbers", {"+15145550302"}},
                         {"is_active", true}};
  CHECK(created.body == expected);
  CHECK(f.get("/sms-router/admin/users/3").body == expected);
  auto list = f.get("/sms-router/admin/users");
  REQUIRE(list.status == 200);
  REQUIRE(list.body["users"].size() == 3);
  CHECK(list.body["users"][0]["extra_phone_numbers"] == json::array({kAdaSecond}));
  CHECK(list.body["users"][2] == expected);

  // Fields left out keep their values.
  auto renamed = f.admin("PUT", "/sms-router/admin/users/3", {{"full_name", "Cy Young"}, {"is_active", false}});
  REQUIRE(renamed.status == 200);
  CHECK(renamed.body["full_name"] == "Cy Young");
  CHECK(renamed.body["is_active"] == false);
  CHECK(renamed.body["email"] == "cy@example.com");
  CHECK(renamed.body["extra_phone_numbers"] == json::array({"+15145550302"}));
  CHECK(f.get("/sms-router/admin/lookup?phone=%2B15145550301").body["active"] == false);

  auto added = f.admin("POST", "/sms-router/admin/users/3/phones", {{"phone_number", "+1 514 555 0303"}});
  REQUIRE(added.status == 201);
  CHECK(added.body["extra_phone_numbers"] == json::array({"+15145550302", "+15145550303"}));
  auto removed = f.admin("DELETE", "/sms-router/admin/users/3/phones/%2B15145550302");
  REQUIRE(removed.status == 200);
  CHECK(removed.body["extra_phone_numbers"] == json::array({"+15145550303"}));
  CHECK(f.get("/sms-router/admin/lookup?phone=%2B15145550302").body["user_id"].is_null());
  // The primary number too, written in national format in the path.
  auto no_primary = f.admin("DELETE", "/sms-router/admin/users/3/phones/5145550301");
  REQUIRE(no_primary.status == 200);
  CHECK(no_primary.body["phone_number"].is_null());

  auto deleted = f.admin("DELETE", "/sms-router/admin/users/3");
  REQUIRE(deleted.status == 200);
  CHECK(deleted.body == json{{"status", "deleted"}, {"id", 3}});
  CHECK(f.get("/sms-router/admin/users/3").status == 404);
  CHECK(f.get("/sms-router/admin/lookup?phone=%2B15145550303").body["user_id"].is_null());
  CHECK(f.get("/sms-router/admin/users").body["users"].size() == 2);
}

TEST_CASE("an unknown path answers 404 with a reason: JSON under the admin API, text elsewhere") {
  Fixture f;
  f.start();
  auto admin = f.get("/sms-router/admin/no-such-thing");
  CHECK(admin.status == 404);
  CHECK(admin.body.value("error", "") == "no such endpoint: GET /sms-router/admin/no-such-thing");
  auto other = http_get(f.service->port(), "/nowhere");
  CHECK(other.status == 404);
  CHECK(other.body == "no such endpoint: GET /nowhere\n");
  // Handlers' own errors keep their text.
  CHECK(f.get("/sms-router/admin/users/99").body.value("error", "").find("no such endpoint") == std::string::npos);
}

TEST_CASE("user writes answer 404 for an unknown user, 409 for a number someone else owns and 400 for bad input") {
  Fixture f;
  f.start();
  CHECK(f.get("/sms-router/admin/users/99").status == 404);
  CHECK(f.admin("PUT", "/sms-router/admin/users/99", {{"full_name", "x"}}).status == 404);
  CHECK(f.admin("DELETE", "/sms-router/admin/users/99").status == 404);
  CHECK(f.admin("POST", "/sms-router/admin/users/99/phones", {{"phone_number", "+15145550401"}}).status == 404);
  CHECK(f.admin("DELETE", "/sms-router/admin/users/99/phones/%2B15145550101").status == 404);
  // Bob does not have Ada's number.
  CHECK(f.admin("DELETE", "/sms-router/admin/users/2/phones/%2B15145550101").status == 404);

  auto taken = f.admin("POST", "/sms-router/admin/users", {{"phone_number", "+15145550401"},
                                                            {"extra_phone_numbers", {kAdaSecond}}});
  CHECK(taken.status == 409);
  CHECK(taken.body["error"] == "number +15145550102 already belongs to user 1");
  CHECK(f.admin("POST", "/sms-router/admin/users", {{"id", 2}, {"phone_number", "+15145550401"}}).status == 409);
  CHECK(f.admin("POST", "/sms-router/admin/users/2/phones", {{"phone_number", kAda}}).status == 409);
  CHECK(f.admin("PUT", "/sms-router/admin/users/2", {{"phone_number", kAda}}).status == 409);
  CHECK(f.get("/sms-router/admin/lookup?phone=%2B15145550401").body["user_id"].is_null());  // nothing half-done

  const std::vector<std::pair<json, std::string>> bad = {
      {json{{"email", "x@example.com"}}, "phone_number: required"},
      {json{{"phone_number", "not a number"}}, "phone_number: \"not a number\" is not a valid phone number"},
      {json{{"phone_number", 5145550401LL}}, "phone_number: expected a string"},
      {json{{"phone_number", "+15145550401"}, {"extra_phone_numbers", {"+15145550402", "nope"}}},
       "extra_phone_numbers[1]: "},
      {json{{"phone_number", "+15145550401"}, {"phone", "+15145550402"}}, "unknown field \"phone\""},
      {json{{"phone_number", "+15145550401"}, {"is_active", "yes"}}, "is_active: expected true or false"},
      {json{{"phone_number", "+15145550401"}, {"id", -4}}, "id: expected a positive integer"},
      {json{{"phone_number", "+15145550401"}, {"extra_phone_numbers", {"+15145550401"}}}, "listed twice"},
      {json::array({1, 2}), "the request body must be a JSON object"}};
  for (const auto& [body, message] : bad) {
    INFO(body.dump());
    auto answer = f.admin("POST", "/sms-router/admin/users", body);
    CHECK(answer.status == 400);
    CHECK(answer.body.value("error", "").find(message) != std::string::npos);
  }
  auto not_json = request(f.service->port(), "POST", "/sms-router/admin/users", "{not json",
                          std::string("Bearer ") + kAdminToken);
  CHECK(not_json.status == 400);
  CHECK(f.admin("PUT", "/sms-router/admin/users/2", {{"id", 1}}).status == 400);
  CHECK(f.get("/sms-router/admin/users/abc").status == 400);
  CHECK(f.get("/sms-router/admin/users").body["users"].size() == 2);
}

TEST_CASE("a number moved to another user by PUT routes to the new owner at once, never to the old one") {
  Fixture f;
  f.start();
  // Ada's second number is routed (and its owner now cached).
  REQUIRE(twiml_message(f.send({kAdaSecond, "before"}).body) == "agent 1: before");
  REQUIRE(twiml_message(f.send({kAdaSecond, "cached"}).body) == "agent 1: cached");

  REQUIRE(f.admin("PUT", "/sms-router/admin/users/1", {{"extra_phone_numbers", json::array()}}).status == 200);
  auto moved = f.admin("PUT", "/sms-router/admin/users/2", {{"extra_phone_numbers", {kAdaSecond}}});
  REQUIRE(moved.status == 200);
  CHECK(moved.body["extra_phone_numbers"] == json::array({kAdaSecond}));

  // No waiting: the very next message goes to Bob's agent.
  CHECK(twiml_message(f.send({kAdaSecond, "after"}).body) == "agent 2: after");
  auto requests = f.agent.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[2].path == "/agent/2");
  CHECK(requests[2].body["user"]["id"] == 2);

  // A new user created by POST is routed at once too, though the miss was cached.
  CHECK(f.send({"+15145550555", "anyone?"}).body.find("not registered") != std::string::npos);
  REQUIRE(f.admin("POST", "/sms-router/admin/users", {{"id", 7}, {"phone_number", "+15145550555"}}).status == 201);
  CHECK(twiml_message(f.send({"+15145550555", "now"}).body) == "agent 7: now");
}

TEST_CASE("with sync.postgres_url set every user write answers 409 and reads still work") {
  Fixture f;
  f.start();  // the users are created standalone, then the central database takes over
  f.service->stop();
  f.config["sync"]["postgres_url"] = "postgresql://router:central-db-password@127.0.0.1:1/central";
  f.service = std::make_unique<Service>(f.dir, f.config);
  f.service->start();
  const std::vector<std::pair<std::string, std::string>> writes = {
      {"POST", "/sms-router/admin/users"},
      {"PUT", "/sms-router/admin/users/1"},
      {"DELETE", "/sms-router/admin/users/1"},
      {"POST", "/sms-router/admin/users/1/phones"},
      {"DELETE", "/sms-router/admin/users/1/phones/%2B15145550102"}};
  for (const auto& [method, path] : writes) {
    INFO(method << " " << path);
    auto answer = f.admin(method, path, {{"phone_number", "+15145550401"}});
    CHECK(answer.status == 409);
    CHECK(answer.body.value("error", "").find("users are managed in the central database") != std::string::npos);
  }
  auto users = f.get("/sms-router/admin/users");
  CHECK(users.status == 200);
  CHECK(users.body["users"].size() == 2);
  CHECK(f.get("/sms-router/admin/lookup?phone=%2B15145550102").body["user_id"] == 1);
  auto stats = f.get("/sms-router/admin/stats");
  CHECK(stats.status == 200);
  CHECK(stats.body["sync"]["enabled"] == true);
  CHECK(stats.text.find("central-db-password") == std::string::npos);
}

TEST_CASE("the metrics text is Prometheus exposition: HELP and TYPE lines, then name{labels} value samples") {
  Fixture f;
  f.start();
  REQUIRE(f.send({kAda, "hello"}).status == 200);
  auto answer = http_get(f.service->port(), kMetricsPath);  // no Authorization: public like health
  REQUIRE(answer.status == 200);
  CHECK(answer.content_type.find("text/plain") == 0);
  CHECK(answer.content_type.find("version=0.0.4") != std::string::npos);
  // name{label="value",...} value, the labels optional; the value a number, +Inf, -Inf or NaN.
  static const std::string name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  static const std::string label = R"([a-zA-Z_][a-zA-Z0-9_]*="[^"]*")";
  static const std::regex sample(name + "(\\{" + label + "(," + label + ")*\\})? " +
                                 R"((\+Inf|-Inf|NaN|-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?))");
  static const std::regex comment("# (HELP " + name + " .+|TYPE " + name + " (counter|gauge|histogram))");
  std::istringstream in(answer.body);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    INFO(line);
    if (line.rfind("#", 0) == 0) {
      CHECK(std::regex_match(line, comment));
    } else {
      CHECK(std::regex_match(line, sample));
      ++samples;
    }
  }
  CHECK(samples > 40);
  auto m = parse_metrics(answer.body);
  CHECK(m["sms_router_queue_depth{queue=\"agent\"}"] >= 0);
  CHECK(m.count("sms_router_queue_depth{queue=\"outbound\"}") == 1);
  CHECK(m["sms_router_sync_runs_total"] == 0);
  CHECK(m["sms_router_sync_failures_total"] == 0);
  CHECK(m["sms_router_sync_last_success_timestamp_seconds"] == 0);
  CHECK(m["sms_router_usage_logs_unpushed"] == 0);
}

TEST_CASE("webhook, agent, cache and outbound counters move with the traffic") {
  Fixture f;
  f.config["limits"]["max_body_bytes"] = 2048;
  f.start();
  auto before = f.metrics();
  CHECK(before[webhooks("routed")] == 0);

  REQUIRE(twiml_message(f.send({kAda, "one"}).body) == "agent 1: one");
  Sms repeated{kAda, "two"};
  repeated.sid = new_message_sid();
  REQUIRE(f.send(repeated).status == 200);
  REQUIRE(f.send(repeated).status == 200);
  REQUIRE(f.send({kStranger, "hi"}).status == 200);
  REQUIRE(post_webhook(f.service->port(), sms_fields({kAda, "forged"}), "wrong-token").status == 403);
  REQUIRE(post_raw(f.service->port(), "/sms-router/webhook/sms", "Body=%zz", {}).status == 400);
  REQUIRE(f.send({kAda, std::string(3000, 'x')}).status == 413);
  REQUIRE(f.admin("POST", "/sms-router/admin/messages", {{"user_id", 2}, {"body", "hello Bob"}}).status == 202);

  auto after = f.metrics();
  CHECK(after[webhooks("routed")] == 2);
  CHECK(after[webhooks("duplicate")] == 1);
  CHECK(after[webhooks("unknown")] == 1);
  CHECK(after[webhooks("rejected_signature")] == 1);
  CHECK(after[webhooks("bad_request")] == 1);
  CHECK(after[webhooks("too_large")] == 1);
  CHECK(after[webhooks("unavailable")] == 0);
  CHECK(after["sms_router_webhook_duration_seconds_count"] == 7);
  CHECK(after["sms_router_webhook_duration_seconds_bucket{le=\"+Inf\"}"] == 7);
  CHECK(after["sms_router_webhook_duration_seconds_sum"] > 0);
  CHECK(after["sms_router_agent_calls_total"] == 2);
  CHECK(after["sms_router_agent_failures_total"] == 0);
  CHECK(after["sms_router_agent_duration_seconds_count"] == 2);
  // Four lookups, the duplicate's included (the refused requests never got that far).
  CHECK(after["sms_router_cache_misses_total"] == 2);
  CHECK(after["sms_router_cache_hits_total"] == 2);
  CHECK(after["sms_router_cache_entries"] == 2);
  CHECK(eventually([&] { return f.metrics()["sms_router_outbound_sent_total"] == 1; }));
  CHECK(f.metrics()["sms_router_outbound_failed_total"] == 0);
  // Each stored webhook and each agent reply is a write; sequential requests share few commits.
  auto settled = f.metrics();
  CHECK(settled["sms_router_db_writes_total"] >= 6);
  CHECK(settled["sms_router_db_commits_total"] >= 1);
  CHECK(settled["sms_router_db_commits_total"] <= settled["sms_router_db_writes_total"]);
}

TEST_CASE("the age of the oldest waiting message grows while the agent or Twilio is down and is 0 once all went out") {
  Fixture f;
  f.config["agent"]["max_attempts"] = 50;
  std::atomic<bool> agent_down{true};
  std::atomic<bool> twilio_down{true};
  f.agent.set_behaviour([&](const FakeAgent::Request& r) {
    if (agent_down) return FakeAgent::Response{503, R"({"error":"down"})"};
    return FakeAgent::Response{200, json{{"reply", "back: " + r.body["message"]["body"].get<std::string>()}}.dump()};
  });
  f.twilio.set_behaviour([&](const FakeTwilio::Request&, std::size_t) {
    return twilio_down ? FakeTwilio::error(500, 20500, "down") : FakeTwilio::Response{};
  });
  f.start();
  const std::string agent_age = "sms_router_oldest_pending_age_seconds{queue=\"agent\"}";
  const std::string outbound_age = "sms_router_oldest_pending_age_seconds{queue=\"outbound\"}";
  CHECK(f.metrics()[agent_age] == 0);
  CHECK(f.metrics()[outbound_age] == 0);

  REQUIRE(f.send({kAda, "are you there"}).status == 200);
  REQUIRE(f.admin("POST", "/sms-router/admin/messages", {{"user_id", 2}, {"body", "hello Bob"}}).status == 202);
  CHECK(eventually([&] { return f.metrics()[agent_age] >= 1; }));
  CHECK(eventually([&] { return f.metrics()[outbound_age] >= 1; }));

  agent_down = false;
  twilio_down = false;
  CHECK(eventually([&] { return f.metrics()[agent_age] == 0; }, std::chrono::seconds(60)));
  CHECK(eventually([&] { return f.metrics()[outbound_age] == 0; }, std::chrono::seconds(60)));
}

TEST_CASE("metrics and admin answers contain no secret, and metrics no phone number") {
  Fixture f;
  f.start();
  REQUIRE(twiml_message(f.send({kAda, "secret plans"}).body) == "agent 1: secret plans");
  REQUIRE(f.send({kStranger, "hi"}).status == 200);
  REQUIRE(f.agent.requests().front().authorization == std::string("Bearer ") + kAgentToken);

  auto metrics = http_get(f.service->port(), kMetricsPath).body;
  std::vector<std::string> answers = {metrics};
  for (const char* path : {"/sms-router/admin/stats", "/sms-router/admin/users", "/sms-router/admin/users/1",
                           "/sms-router/admin/usage", "/sms-router/admin/lookup?phone=%2B15145550101",
                           "/sms-router/admin/lookup?phone=nope"}) {
    auto answer = f.get(path);
    CHECK(answer.status / 100 != 5);
    answers.push_back(answer.text);
  }
  answers.push_back(f.admin("POST", "/sms-router/admin/sync", json::object()).text);
  for (const auto& text : answers) {
    INFO(text.substr(0, 200));
    for (const char* secret : {kAuthToken, kSecondaryAuthToken, kAdminToken, kAgentToken}) {
      CHECK(text.find(secret) == std::string::npos);
    }
  }
  for (const char* number : {kAda, kAdaSecond, kBob, kStranger, kRouterNumber}) {
    CHECK(metrics.find(std::string(number).substr(2)) == std::string::npos);  // not even without +1
  }
  CHECK(metrics.find("secret plans") == std::string::npos);
}
