// Guarantee 4 (secrets) and the log rules, swept end to end: one full run of the real binary
// with every secret set, traffic of every kind, the admin API, health, metrics and
// `check-config`; then nothing an operator or a scraper can read (the service's log, the
// health and metrics bodies, check-config's output, error answers) may contain a secret, a
// full phone number of a sender or user, or a message body.
//
// Answers to the admin API with the right token are left out: showing numbers is their job.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace smsr;
using namespace smsr::test;
using nlohmann::json;

namespace {

// Secrets, all distinct from the harness's defaults.
constexpr const char* kTwilioToken = "privacy-twilio-auth-token-5d1f0c7a9e";
constexpr const char* kSecondaryToken = "privacy-secondary-token-8b2e44c1f0";
constexpr const char* kAgentToken = "privacy-agent-bearer-token-3c9a71d2";
constexpr const char* kAdminToken = "privacy-admin-token-0f4e8d2b6a1c9e7f35";
constexpr const char* kPostgresPassword = "privacy-pg-password-7e3a";
// A central database that refuses connections: sync runs, fails and logs that.
const std::string kPostgresUrl =
    std::string("postgresql://router:") + kPostgresPassword + "@127.0.0.1:1/central?connect_timeout=1";

struct Person {
  const char* e164;
  const char* national;  // the national significant number: a full number too
};
const Person kAdaPerson{"+15145550101", "5145550101"};
const Person kAdaSecondPerson{"+15145550102", "5145550102"};
const Person kBobPerson{"+442079460958", "2079460958"};
const Person kCarolPerson{"+33612345678", "612345678"};  // inactive
const Person kStrangerPerson{"+15145550999", "5145550999"};

// Message bodies, each with a word that appears nowhere else.
const std::vector<std::string> kBodies = {
    "Purple elephants juggle quietly",       // Ada
    "Meet me by the lighthouse at seven",     // Ada, second number
    "Xylophone recital moved to Thursday",   // Bob; the agent fails once on it
    "Who owns this mysterious number",        // the stranger
    "Carol asks about the quarterly report",  // Carol, inactive
    "Forged banana telegram",                 // a forged signature
    "Proactive reminder about the dentist",   // sent through the admin API
};
const std::vector<std::string> kBodyWords = {"elephants", "lighthouse", "Xylophone", "mysterious",
                                             "quarterly", "banana",     "dentist"};

struct Answer {
  int status = 0;
  std::string body;
};

Answer admin_request(int port, const std::string& method, const std::string& path, const std::string& token,
                     const std::string& body = "") {
  auto connection = service_client(port);
  httplib::Client& client = *connection;
  client.set_read_timeout(30, 0);
  client.set_url_encode(false);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  auto res = method == "POST" ? client.Post(path, headers, body, "application/json") : client.Get(path, headers);
  if (!res) return {0, "connection failed"};
  return {res->status, res->body};
}

// The maximal runs of 6 or more digits in `text` that stand alone (not inside a word such
// as a hex id, not the decimals of a number) and are part of one of `numbers`: a phone
// number shown with more than its last 4 digits. (Ports have 5 digits.)
std::vector<std::string> partial_numbers(const std::string& text, const std::vector<Person>& numbers) {
  auto is_alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  std::vector<std::string> found;
  for (std::size_t i = 0; i < text.size();) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    const std::string run = text.substr(i, end - i);
    const bool alone = (i == 0 || (!is_alnum(text[i - 1]) && text[i - 1] != '.')) &&
                       (end == text.size() || !is_alnum(text[end]));
    if (alone && run.size() >= 6) {
      for (const Person& p : numbers) {
        if (std::string(p.e164 + 1).find(run) != std::string::npos) found.push_back(run);
      }
    }
    i = end;
  }
  return found;
}

HttpAnswer send(int port, const Person& from, const std::string& body) {
  return post_webhook(port, sms_fields({from.e164, body}), kTwilioToken);
}

}  // namespace

TEST_CASE("no secret, full phone number or message body in logs, health, metrics, check-config or error answers") {
  // The agent answers 503 once for Bob's message, echoing the body in its error answer (so
  // a router that logged agent answers would leak it), then answers normally.
  std::atomic<bool> failed_once{false};
  TempDir dir;
  FakeAgent agent;
  FakeTwilio twilio;
  agent.set_behaviour([&](const FakeAgent::Request& r) {
    FakeAgent::Response res;
    const std::string body = r.body["message"]["body"].get<std::string>();
    if (body == kBodies[2] && !failed_once.exchange(true)) {
      res.status = 503;
      const std::string from = r.body["message"]["from"].get<std::string>();
      res.body = json{{"error", "cannot handle " + body + " from " + from}}.dump();
      return res;
    }
    const long long user = r.body["user"]["id"].get<long long>();
    res.body = json{{"reply", "agent " + std::to_string(user) + ": " + body}}.dump();
    return res;
  });

  write_file(dir.file("agent.token"), std::string(kAgentToken) + "\n");
  json config = base_config(dir);
  config["twilio"]["auth_token"] = kTwilioToken;
  config["twilio"]["secondary_auth_token"] = kSecondaryToken;
  config["twilio"]["api_base_url"] = twilio.url();
  config["agent"]["url"] = agent.url();
  config["agent"]["token_file"] = dir.file("agent.token");
  config["agent"]["max_attempts"] = 3;
  config["admin"]["token"] = kAdminToken;
  config["log"]["level"] = "info";

  // Users first: with sync configured, local user writes are refused.
  Service setup(dir, config);
  REQUIRE(setup.cli({"users", "add", "--id", "1", "--phone", kAdaPerson.e164, "--phone", kAdaSecondPerson.e164,
                     "--email", "ada@example.com", "--name", "Ada"}).status == 0);
  REQUIRE(setup.cli({"users", "add", "--id", "2", "--phone", kBobPerson.e164}).status == 0);
  REQUIRE(setup.cli({"users", "add", "--id", "3", "--phone", kCarolPerson.e164, "--inactive"}).status == 0);

  config["sync"]["postgres_url"] = kPostgresUrl;
  config["sync"]["interval_s"] = 1;
  Service service(dir, config);
  service.start();
  const int port = service.port();

  // Everything swept, with what it is.
  std::vector<std::pair<std::string, std::string>> outputs;

  // Traffic.
  CHECK(twiml_message(send(port, kAdaPerson, kBodies[0]).body) == "agent 1: " + kBodies[0]);
  CHECK(twiml_message(send(port, kAdaSecondPerson, kBodies[1]).body) == "agent 1: " + kBodies[1]);
  CHECK(send(port, kBobPerson, kBodies[2]).status == 200);
  // Bob's message reaches the agent on the second attempt (its reply goes back inline or,
  // past agent.inline_wait_ms, through the REST API); then Bob opts out.
  CHECK(eventually([&] { return agent.count() == 4; }, std::chrono::seconds(20)));
  CHECK(send(port, kStrangerPerson, kBodies[3]).status == 200);
  CHECK(send(port, kCarolPerson, kBodies[4]).status == 200);
  CHECK(send(port, kBobPerson, "STOP").status == 200);
  auto forged = post_webhook(port, sms_fields({kAdaPerson.e164, kBodies[5]}), "not-the-auth-token");
  CHECK(forged.status == 403);
  outputs.emplace_back("forged webhook answer", forged.body);

  // The admin API: wrong and missing tokens, then the right one.
  for (const std::string& token : {std::string("wrong-admin-token-wrong-admin-token-00"), std::string()}) {
    auto lookup = admin_request(port, "GET", "/sms-router/admin/lookup?phone=%2B15145550101", token);
    CHECK(lookup.status == 401);
    outputs.emplace_back("lookup with a wrong token", lookup.body);
    auto users = admin_request(port, "GET", "/sms-router/admin/users", token);
    CHECK(users.status == 401);
    outputs.emplace_back("users with a wrong token", users.body);
    auto message = admin_request(port, "POST", "/sms-router/admin/messages", token,
                                 json{{"user_id", 1}, {"body", kBodies[6]}}.dump());
    CHECK(message.status == 401);
    outputs.emplace_back("messages with a wrong token", message.body);
  }
  auto lookup = admin_request(port, "GET", "/sms-router/admin/lookup?phone=%2B15145550101", kAdminToken);
  CHECK(lookup.status == 200);
  CHECK(json::parse(lookup.body, nullptr, false).value("user_id", 0) == 1);  // the token works
  CHECK(admin_request(port, "GET", "/sms-router/admin/users", kAdminToken).status == 200);
  auto missing = admin_request(port, "GET", "/sms-router/admin/users/999", kAdminToken);
  CHECK(missing.status == 404);
  outputs.emplace_back("unknown user", missing.body);
  CHECK(admin_request(port, "POST", "/sms-router/admin/messages", kAdminToken,
                      json{{"user_id", 1}, {"body", kBodies[6]}}.dump()).status == 202);
  CHECK(eventually([&] {
    for (const auto& r : twilio.accepted()) {
      if (r.field("Body") == kBodies[6]) return true;
    }
    return false;
  }));

  auto health = http_get(port, "/sms-router/health");
  CHECK(health.status / 100 == 2);
  outputs.emplace_back("health", health.body);
  auto metrics = http_get(port, "/sms-router/metrics");
  CHECK(metrics.status == 200);
  outputs.emplace_back("metrics", metrics.body);

  auto check = service.cli({"check-config"});
  CHECK(check.status == 0);
  outputs.emplace_back("check-config stdout", check.out);
  outputs.emplace_back("check-config stderr", check.err);
  // A refused secret is not echoed either (admin.token must have 32 characters).
  json bad = config;
  bad["admin"]["token"] = "short-admin-secret-9f8e";
  Service bad_config(dir, bad);
  auto refused = bad_config.cli({"check-config"});
  CHECK(refused.status == 2);
  CHECK(refused.err.find("admin.token") != std::string::npos);
  outputs.emplace_back("check-config refusing a short admin token", refused.out + refused.err);

  CHECK(service.stop() == 0);
  const std::string log = service.log();
  outputs.emplace_back("service log", log);
  outputs.emplace_back("service stdout", read_file(dir.file("service.out")));

  // The secrets were in use, so their absence means something.
  REQUIRE(agent.requests().size() >= 4);
  CHECK(agent.requests().front().authorization == std::string("Bearer ") + kAgentToken);
  REQUIRE_FALSE(twilio.requests().empty());
  CHECK(twilio.requests().front().authorization.rfind("Basic ", 0) == 0);
  // And the outputs are not empty: the log names each message by its last digits.
  CHECK(log.find("event=webhook.sms") != std::string::npos);
  CHECK(log.find("event=agent.attempt_failed") != std::string::npos);
  CHECK(log.find("0101") != std::string::npos);
  CHECK(log.find("0958") != std::string::npos);
  CHECK(check.out.find("********") != std::string::npos);
  CHECK(metrics.body.find("sms_router_webhooks_total") != std::string::npos);

  std::vector<std::string> forbidden = {kTwilioToken, kSecondaryToken, kAgentToken,      kAdminToken,
                                        kPostgresPassword, kPostgresUrl, "short-admin-secret-9f8e"};
  const std::vector<Person> people = {kAdaPerson, kAdaSecondPerson, kBobPerson, kCarolPerson, kStrangerPerson};
  for (const Person& p : people) {
    forbidden.emplace_back(p.e164);
    forbidden.emplace_back(p.e164 + 1);  // without '+'
    forbidden.emplace_back(p.national);
  }
  forbidden.insert(forbidden.end(), kBodies.begin(), kBodies.end());
  forbidden.insert(forbidden.end(), kBodyWords.begin(), kBodyWords.end());

  for (const auto& [what, text] : outputs) {
    for (const auto& value : forbidden) {
      auto at = text.find(value);
      INFO(what << " contains \"" << value << "\":\n"
                << (at == std::string::npos ? "" : text.substr(at < 200 ? 0 : at - 200, 400)));
      CHECK(at == std::string::npos);
    }
    INFO(what);
    CHECK(partial_numbers(text, people).empty());
  }
}
