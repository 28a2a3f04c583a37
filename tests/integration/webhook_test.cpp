// The inbound webhook end to end: the real binary, a real SQLite file, real HTTP, a fake
// agent that is a real HTTP server.
#include <SQLiteCpp/Database.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>

#include <catch2/catch.hpp>

#include "tests/integration/harness.hpp"

using namespace smsr;
using namespace smsr::test;
using nlohmann::json;

namespace {

struct Fixture {
  TempDir dir;
  FakeAgent agent;
  json config = base_config(dir);
  std::unique_ptr<Service> service;

  Fixture() { config["agent"]["url"] = agent.url(); }

  // Creates the users through the CLI, then starts the service.
  void start() {
    service = std::make_unique<Service>(dir, config);
    REQUIRE(service->cli({"users", "add", "--id", "1", "--phone", kAda, "--phone", kAdaSecond,
                          "--email", "ada@example.com", "--name", "Ada"}).status == 0);
    REQUIRE(service->cli({"users", "add", "--id", "2", "--phone", kBob, "--email", "bob@example.com"})
                .status == 0);
    service->start();
  }

  HttpAnswer send(const Sms& sms) { return post_webhook(service->port(), sms_fields(sms)); }

  long long count(const std::string& sql) {
    SQLite::Database db(dir.file("router.db"));
    return db.execAndGet(sql).getInt64();
  }
};

}  // namespace

TEST_CASE("a signed message from a registered number reaches that user's agent and the reply comes back as TwiML") {
  Fixture f;
  f.start();
  auto answer = f.send({kAda, "hello there"});
  REQUIRE(answer.status == 200);
  CHECK(answer.content_type.find("text/xml") == 0);
  CHECK(answer.body.rfind("<?xml", 0) == 0);
  CHECK(twiml_message(answer.body) == "agent 1: hello there");

  auto requests = f.agent.requests();
  REQUIRE(requests.size() == 1);
  const auto& r = requests.front();
  CHECK(r.path == "/agent/1");
  CHECK(r.body["user"]["id"] == 1);
  CHECK(r.body["user"]["email"] == "ada@example.com");
  CHECK(r.body["user"]["phone_number"] == kAda);
  CHECK(r.body["message"]["from"] == kAda);
  CHECK(r.body["message"]["to"] == kRouterNumber);
  CHECK(r.body["message"]["body"] == "hello there");
  CHECK(r.idempotency_key == r.body["message"]["sid"]);
  CHECK(f.count("SELECT count(*) FROM usage_logs WHERE message_direction = 'inbound' AND user_id = 1") == 1);
  CHECK(f.count("SELECT count(*) FROM usage_logs WHERE message_direction = 'outbound' AND user_id = 1") == 1);
}

TEST_CASE("the agent token is sent as a bearer token and never appears in the log") {
  Fixture f;
  f.config["agent"]["token"] = "agent-secret-token-value-42";
  f.config["admin"]["token"] = "admin-secret-token-value-0123456789abcdef";
  f.start();
  REQUIRE(f.send({kAda, "zebra crossing at noon"}).status == 200);
  REQUIRE(f.agent.count() == 1);
  CHECK(f.agent.requests().front().authorization == "Bearer agent-secret-token-value-42");
  post_webhook(f.service->port(), sms_fields({kAda, "bad"}), "wrong-token");
  f.service->stop();
  auto log = f.service->log();
  CHECK(log.find("agent-secret-token-value-42") == std::string::npos);
  CHECK(log.find("admin-secret-token-value") == std::string::npos);
  CHECK(log.find(kAuthToken) == std::string::npos);
  CHECK(log.find(kAda) == std::string::npos);  // numbers show their last 4 digits only
  CHECK(log.find("0101") != std::string::npos);
  CHECK(log.find("zebra crossing") == std::string::npos);  // bodies are not logged at info
}

TEST_CASE("every request gets an id: answered in X-Request-Id, sent to the agent, on every log line it causes") {
  Fixture f;
  f.start();
  auto signed_post = [&](const FormFields& fields, const std::string& request_id) {
    const std::string path = "/sms-router/webhook/sms";
    std::vector<std::pair<std::string, std::string>> headers = {
        {"X-Twilio-Signature", compute_signature(kAuthToken, signature_payload("http://localhost:8000" + path, fields))}};
    if (!request_id.empty()) headers.emplace_back("X-Request-Id", request_id);
    return post_raw(f.service->port(), path, encode_form(fields), headers);
  };

  // A proxy's id is kept, so one id follows the message through both systems.
  auto fields = sms_fields({kAda, "first"});
  auto answer = signed_post(fields, "edge-7f3a.42_b");
  REQUIRE(answer.status == 200);
  CHECK(answer.request_id == "edge-7f3a.42_b");
  REQUIRE(f.agent.count() == 1);
  CHECK(f.agent.requests().front().request_id == "edge-7f3a.42_b");
  // The dispatcher logs its line just after handing the reply over, so it may come later.
  auto logged = [&](const char* event) {
    return eventually([&] {
      return std::regex_search(f.service->log(),
                               std::regex(std::string("event=") + event + " [^\\n]*request_id=edge-7f3a\\.42_b\\n"));
    });
  };
  CHECK(logged("webhook\\.sms"));
  CHECK(logged("message\\.delivered"));

  // Otherwise, and for ids that could break a log line, the router makes one up.
  auto second = signed_post(sms_fields({kAda, "second"}), "");
  auto third = signed_post(sms_fields({kAda, "third"}), "two words=x");
  REQUIRE(second.status == 200);
  REQUIRE(third.status == 200);
  const std::regex generated("[0-9a-f]{16}");
  CHECK(std::regex_match(second.request_id, generated));
  CHECK(std::regex_match(third.request_id, generated));
  CHECK(second.request_id != third.request_id);
  CHECK(f.service->log().find("request_id=" + third.request_id) != std::string::npos);
  // Errors carry one too.
  CHECK(std::regex_match(post_webhook(f.service->port(), fields, "wrong-token").request_id, generated));
}

TEST_CASE("an extra number of a user reaches that user's agent, with the user's primary number in the request") {
  Fixture f;
  f.start();
  auto answer = f.send({kAdaSecond, "from my other phone"});
  CHECK(twiml_message(answer.body) == "agent 1: from my other phone");
  REQUIRE(f.agent.count() == 1);
  auto r = f.agent.requests().front();
  CHECK(r.body["user"]["id"] == 1);
  CHECK(r.body["user"]["phone_number"] == kAda);
  CHECK(r.body["message"]["from"] == kAdaSecond);
}

TEST_CASE("a number written in national format in the webhook still finds its owner") {
  Fixture f;
  f.start();
  auto answer = f.send({"(514) 555-0201", "national"});
  CHECK(twiml_message(answer.body) == "agent 2: national");
}

TEST_CASE("a sender shaped like E.164 but not in normal form still finds its owner, under the normal form") {
  // The webhook takes an E.164-shaped sender as it is only when it is a stored number; this
  // one carries the UK trunk 0 after the country code and must go through normalisation.
  Fixture f;
  f.start();
  REQUIRE(f.service->cli({"users", "add", "--id", "3", "--phone", "+442079460958"}).status == 0);
  auto answer = f.send({"+4402079460958", "from London"});
  CHECK(twiml_message(answer.body) == "agent 3: from London");
  REQUIRE(f.agent.count() == 1);
  CHECK(f.agent.requests().front().body["message"]["from"] == "+442079460958");
  CHECK(f.count("SELECT count(*) FROM inbound_messages WHERE from_number = '+442079460958' AND user_id = 3") == 1);
}

TEST_CASE("an unknown number gets the unregistered reply at most once a day and never reaches an agent, even after a restart") {
  Fixture f;
  f.config["replies"]["unknown_sender"] = "Not registered. Sign up: https://example.com/join?p={phone}";
  f.start();
  auto first = f.send({kStranger, "hello?"});
  REQUIRE(first.status == 200);
  CHECK(twiml_message(first.body) == "Not registered. Sign up: https://example.com/join?p=%2B15145550999");
  auto second = f.send({kStranger, "hello again"});
  CHECK(second.status == 200);
  CHECK_FALSE(twiml_message(second.body).has_value());

  f.service->stop();
  f.service->start();
  auto third = f.send({kStranger, "after restart"});
  CHECK_FALSE(twiml_message(third.body).has_value());
  CHECK(f.agent.count() == 0);
  CHECK(f.count("SELECT count(*) FROM inbound_messages WHERE outcome = 'unknown'") == 3);
  CHECK(f.count("SELECT count(*) FROM usage_logs WHERE user_id IS NULL AND message_direction = 'inbound'") == 3);
}

TEST_CASE("an unknown sender's keyword picks its reply from replies.unknown_keywords") {
  Fixture f;
  f.config["replies"]["unknown_keywords"] = {{"join", "Reply with your e-mail to join"}};
  f.config["limits"]["unknown_sender_replies_per_day"] = 5;
  f.start();
  CHECK(twiml_message(f.send({kStranger, "  Join "}).body) == "Reply with your e-mail to join");
  CHECK(twiml_message(f.send({kStranger, "what is this"}).body).value_or("").find("not registered") !=
        std::string::npos);
}

TEST_CASE("alphanumeric senders and short codes get no reply and reach no agent") {
  Fixture f;
  f.config["limits"]["unknown_sender_replies_per_day"] = 5;
  f.start();
  for (const char* from : {"ACME", "MyBank", "12345"}) {
    auto answer = f.send({from, "promo"});
    CHECK(answer.status == 200);
    CHECK_FALSE(twiml_message(answer.body).has_value());
  }
  CHECK(f.agent.count() == 0);
}

TEST_CASE("an inactive user gets the inactive reply and no agent is called") {
  Fixture f;
  f.config["replies"]["inactive_user"] = "Your account is paused.";
  f.start();
  REQUIRE(f.service->cli({"users", "disable", "2"}).status == 0);
  REQUIRE(eventually([&] { return twiml_message(f.send({kBob, "hi"}).body) == "Your account is paused."; }));
  CHECK(f.agent.count() == 0);
  REQUIRE(f.service->cli({"users", "enable", "2"}).status == 0);
  REQUIRE(eventually([&] { return twiml_message(f.send({kBob, "back"}).body) == "agent 2: back"; }));
}

TEST_CASE("a number claimed by two users is ambiguous: the sender gets replies.error and no agent is called") {
  Fixture f;
  f.config["replies"]["error"] = "Could not process.";
  f.start();
  {
    // Two users mapping the same number: only possible through imported central data.
    SQLite::Database db(f.dir.file("router.db"), SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO phone_mappings (user_id, phone_number, created_ms) VALUES (1, '+15145550777', 0)");
    db.exec("INSERT INTO phone_mappings (user_id, phone_number, created_ms) VALUES (2, '+15145550777', 0)");
  }
  auto answer = f.send({"+15145550777", "who am I"});
  CHECK(twiml_message(answer.body) == "Could not process.");
  CHECK(f.agent.count() == 0);
  CHECK(f.service->log().find("event=number.ambiguous") != std::string::npos);
  auto show = f.service->cli({"users", "show", "+15145550777"});
  CHECK(show.out.find("AMBIGUOUS") != std::string::npos);
}

TEST_CASE("a repeated MessageSid gets the same answer and the agent sees the message once") {
  Fixture f;
  f.start();
  Sms sms{kAda, "only once"};
  sms.sid = new_message_sid();
  auto first = f.send(sms);
  auto second = f.send(sms);
  CHECK(first.status == 200);
  CHECK(second.status == 200);
  CHECK(first.body == second.body);
  CHECK(twiml_message(second.body) == "agent 1: only once");
  CHECK(f.agent.count_sid(sms.sid) == 1);
  CHECK(f.count("SELECT count(*) FROM inbound_messages") == 1);
}

TEST_CASE("concurrent retries of one MessageSid while the agent is thinking share one agent call and one answer") {
  Fixture f;
  f.agent.set_behaviour([](const FakeAgent::Request& r) {
    return FakeAgent::Response{200, json{{"reply", "slow " + r.body["message"]["body"].get<std::string>()}}.dump(),
                               std::chrono::milliseconds(400)};
  });
  f.start();
  Sms sms{kAda, "retry me"};
  sms.sid = new_message_sid();
  std::vector<std::thread> threads;
  std::vector<HttpAnswer> answers(5);
  for (int i = 0; i < 5; ++i) threads.emplace_back([&, i] { answers[static_cast<std::size_t>(i)] = f.send(sms); });
  for (auto& t : threads) t.join();
  for (const auto& a : answers) {
    CHECK(a.status == 200);
    CHECK(twiml_message(a.body) == "slow retry me");
  }
  CHECK(f.agent.count_sid(sms.sid) == 1);
}

TEST_CASE("a missing or wrong signature is refused with 403, nothing is stored, and the log names the signed URL") {
  Fixture f;
  f.start();
  auto fields = sms_fields({kAda, "forged"});
  auto unsigned_answer = post_raw(f.service->port(), "/sms-router/webhook/sms", encode_form(fields), {});
  CHECK(unsigned_answer.status == 403);
  auto wrong = post_webhook(f.service->port(), fields, "not-the-token");
  CHECK(wrong.status == 403);
  // Signed over a different public URL (a proxy changed the scheme): refused too.
  auto wrong_url = post_webhook(f.service->port(), fields, kAuthToken, "https://localhost:8000");
  CHECK(wrong_url.status == 403);
  // A field changed after signing.
  auto tampered = fields;
  std::string signature = compute_signature(
      kAuthToken, signature_payload("http://localhost:8000/sms-router/webhook/sms", fields));
  tampered[6].second = "tampered";
  CHECK(post_raw(f.service->port(), "/sms-router/webhook/sms", encode_form(tampered),
                 {{"X-Twilio-Signature", signature}}).status == 403);
  CHECK(f.agent.count() == 0);
  CHECK(f.count("SELECT count(*) FROM inbound_messages") == 0);
  CHECK(f.service->log().find("signed_url=http://localhost:8000/sms-router/webhook/sms") != std::string::npos);
}

TEST_CASE("a signature over the URL with the default port added, or made with the secondary token, is accepted") {
  Fixture f;
  f.config["twilio"]["secondary_auth_token"] = "the-new-token-during-rotation";
  f.config["public_url"] = "https://router.example.com";
  f.start();
  auto port_variant = post_webhook(f.service->port(), sms_fields({kAda, "port"}), kAuthToken,
                                   "https://router.example.com:443");
  CHECK(port_variant.status == 200);
  auto secondary = post_webhook(f.service->port(), sms_fields({kAda, "rotated"}),
                                "the-new-token-during-rotation", "https://router.example.com");
  CHECK(secondary.status == 200);
  CHECK(f.agent.count() == 2);
}

TEST_CASE("the query string Twilio called is part of what is signed") {
  Fixture f;
  f.start();
  auto fields = sms_fields({kAda, "query"});
  std::string url = "http://localhost:8000/sms-router/webhook/sms?tenant=a%20b&x=1";
  std::string signature = compute_signature(kAuthToken, signature_payload(url, fields));
  CHECK(post_raw(f.service->port(), "/sms-router/webhook/sms?tenant=a%20b&x=1", encode_form(fields),
                 {{"X-Twilio-Signature", signature}}).status == 200);
  CHECK(post_raw(f.service->port(), "/sms-router/webhook/sms?tenant=a+b&x=1", encode_form(fields),
                 {{"X-Twilio-Signature", signature}}).status == 403);
}

TEST_CASE("a webhook for another Twilio account is refused with 403") {
  Fixture f;
  f.start();
  Sms sms{kAda, "other account"};
  sms.account_sid = "AC99999999999999999999999999999999";
  CHECK(f.send(sms).status == 403);
  CHECK(f.agent.count() == 0);
}

TEST_CASE("malformed bodies and missing fields get 400 with a reason, oversized bodies 413") {
  Fixture f;
  f.config["limits"]["max_body_bytes"] = 2048;
  f.start();
  int port = f.service->port();
  auto bad = post_raw(port, "/sms-router/webhook/sms", "Body=%zz&From=%2B1", {});
  CHECK(bad.status == 400);
  CHECK(bad.body.find("form") != std::string::npos);

  auto no_from = sms_fields({kAda, "x"});
  no_from.erase(no_from.begin() + 4);  // From
  auto a = post_webhook(port, no_from);
  CHECK(a.status == 400);
  CHECK(a.body.find("From") != std::string::npos);

  FormFields no_sid;
  for (const auto& kv : sms_fields({kAda, "x"})) {
    if (kv.first.find("Sid") == std::string::npos || kv.first == "AccountSid") no_sid.push_back(kv);
  }
  auto b = post_webhook(port, no_sid);
  CHECK(b.status == 400);
  CHECK(b.body.find("MessageSid") != std::string::npos);

  auto big = post_webhook(port, sms_fields({kAda, std::string(5000, 'x')}));
  CHECK(big.status == 413);
  CHECK(f.agent.count() == 0);
  CHECK(http_get(port, "/sms-router/health").status == 200);  // still serving
}

namespace {

// Sends `request` as it is over a new connection and returns the first response (status
// line, headers, and as many body bytes as its Content-Length says), or what came before a
// 30 s silence.
std::string exchange_raw(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) {
    answer.append(buf, static_cast<std::size_t>(n));
    auto end_of_headers = answer.find("\r\n\r\n");
    if (end_of_headers == std::string::npos) continue;
    std::smatch length;
    std::string headers = answer.substr(0, end_of_headers);
    if (!std::regex_search(headers, length, std::regex("Content-Length: (\\d+)"))) break;
    if (answer.size() >= end_of_headers + 4 + std::stoul(length[1])) break;
  }
  close(fd);
  return answer;
}

}  // namespace

TEST_CASE("a webhook POST without Content-Length is answered 411 at once, asking the client to close", "[plain-http]") {
  Fixture f;
  f.start();
  std::string answer = exchange_raw(f.service->port(),
                                    "POST /sms-router/webhook/sms HTTP/1.1\r\nHost: localhost\r\n"
                                    "Content-Type: application/x-www-form-urlencoded\r\n\r\nBody=hi&From=%2B1");
  CHECK(answer.rfind("HTTP/1.1 411", 0) == 0);
  CHECK(answer.find("Connection: close") != std::string::npos);
  CHECK(answer.find("Content-Length required") != std::string::npos);
  CHECK(f.agent.count() == 0);
  CHECK(f.count("SELECT count(*) FROM inbound_messages") == 0);
}

TEST_CASE("a 1600-character message in a non-Latin script is accepted though its form body exceeds 8 KiB") {
  Fixture f;
  f.start();
  std::string body;
  for (int i = 0; i < 1600; ++i) body += "\xD0\x96";  // Cyrillic Zhe: 6 bytes once percent-encoded
  auto fields = sms_fields({kAda, body});
  REQUIRE(encode_form(fields).size() > 9000);
  auto answer = post_webhook(f.service->port(), fields);
  CHECK(answer.status == 200);
  REQUIRE(f.agent.count() == 1);
  CHECK(f.agent.requests().front().body["message"]["body"] == body);
}

TEST_CASE("a reply with XML special characters is escaped in the TwiML") {
  Fixture f;
  f.agent.set_behaviour([](const FakeAgent::Request&) {
    return FakeAgent::Response{200, json{{"reply", "<b>Tom & \"Jerry\"</b> it's"}}.dump()};
  });
  f.start();
  auto answer = f.send({kAda, "escape"});
  CHECK(answer.body.find("<Message>&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt; it&apos;s</Message>") !=
        std::string::npos);
}

TEST_CASE("an agent slower than inline_wait_ms gets an empty TwiML answer and the reply is kept for sending later") {
  Fixture f;
  f.config["agent"]["inline_wait_ms"] = 200;
  f.agent.set_behaviour([](const FakeAgent::Request&) {
    return FakeAgent::Response{200, json{{"reply", "late reply"}}.dump(), std::chrono::milliseconds(800)};
  });
  f.start();
  auto answer = f.send({kAda, "take your time"});
  CHECK(answer.status == 200);
  CHECK_FALSE(twiml_message(answer.body).has_value());
  CHECK(eventually([&] {
    return f.count("SELECT count(*) FROM outbound_messages WHERE body = 'late reply' AND state = 'queued' "
                   "AND to_number = '+15145550101' AND from_number = '+15005550006'") == 1;
  }));
  CHECK(f.count("SELECT count(*) FROM inbound_messages WHERE state = 'done' AND reply_body = 'late reply'") == 1);
}

TEST_CASE("an agent answering null or 204 produces an empty TwiML answer") {
  Fixture f;
  f.agent.set_behaviour([](const FakeAgent::Request& r) {
    if (r.body["message"]["body"] == "null") return FakeAgent::Response{200, R"({"reply": null})"};
    return FakeAgent::Response{204, ""};
  });
  f.start();
  CHECK_FALSE(twiml_message(f.send({kAda, "null"}).body).has_value());
  CHECK_FALSE(twiml_message(f.send({kAda, "nothing"}).body).has_value());
  CHECK(f.agent.count() == 2);
}

TEST_CASE("a sender over limits.per_sender_per_minute is stored but not forwarded") {
  Fixture f;
  f.config["limits"]["per_sender_per_minute"] = 3;
  f.start();
  for (int i = 0; i < 5; ++i) CHECK(f.send({kAda, "msg " + std::to_string(i)}).status == 200);
  CHECK(f.agent.count() == 3);
  CHECK(f.count("SELECT count(*) FROM inbound_messages WHERE outcome = 'rate_limited'") == 2);
  // Another sender is not affected.
  CHECK(twiml_message(f.send({kBob, "fine"}).body) == "agent 2: fine");
}

TEST_CASE("STOP opts a sender out without a reply; nothing reaches the agent until START") {
  Fixture f;
  f.start();
  CHECK(f.send({kAda, " stop "}).body.find("<Message>") == std::string::npos);
  CHECK(f.send({kAda, "are you there?"}).body.find("<Message>") == std::string::npos);
  CHECK(f.agent.count() == 0);
  CHECK(f.send({kAda, "START"}).body.find("<Message>") == std::string::npos);
  CHECK(twiml_message(f.send({kAda, "back"}).body) == "agent 1: back");
  // "yes" from someone who never opted out is an ordinary message.
  CHECK(twiml_message(f.send({kBob, "Yes"}).body) == "agent 2: Yes");
}

TEST_CASE("with OptOutType present the router never adds a reply of its own") {
  Fixture f;
  f.config["limits"]["unknown_sender_replies_per_day"] = 5;
  f.start();
  Sms help{kStranger, "HELP"};
  help.extra = {{"OptOutType", "HELP"}};
  CHECK(f.send(help).body.find("<Message>") == std::string::npos);
  Sms stop{kStranger, "arret"};
  stop.extra = {{"OptOutType", "STOP"}};
  CHECK(f.send(stop).body.find("<Message>") == std::string::npos);
  CHECK(f.agent.count() == 0);
}

TEST_CASE("media URLs are passed to the agent") {
  Fixture f;
  f.start();
  Sms sms{kAda, "look"};
  sms.extra = {{"NumMedia", "2"},
               {"MediaUrl0", "https://api.twilio.com/media/1"},
               {"MediaContentType0", "image/jpeg"},
               {"MediaUrl1", "https://api.twilio.com/media/2"},
               {"MediaContentType1", "image/png"}};
  REQUIRE(f.send(sms).status == 200);
  auto media = f.agent.requests().front().body["message"]["media"];
  REQUIRE(media.size() == 2);
  CHECK(media[0]["url"] == "https://api.twilio.com/media/1");
  CHECK(media[1]["content_type"] == "image/png");
}

TEST_CASE("a user's history holds that user's earlier messages and replies only") {
  Fixture f;
  f.config["agent"]["history_messages"] = 3;
  f.start();
  f.send({kAda, "ada one"});
  f.send({kBob, "bob one"});
  f.send({kAda, "ada two"});
  auto requests = f.agent.requests();
  REQUIRE(requests.size() == 3);
  auto history = requests[2].body["history"];
  REQUIRE(history.size() == 2);
  CHECK(history[0]["direction"] == "inbound");
  CHECK(history[0]["body"] == "ada one");
  CHECK(history[1]["direction"] == "outbound");
  CHECK(history[1]["body"] == "agent 1: ada one");
  CHECK(requests[1].body["history"].empty());
}

TEST_CASE("a user added with the CLI while the service runs is routed within a moment, though the miss was cached") {
  Fixture f;
  f.config["limits"]["per_sender_per_minute"] = 10000;  // the polling below sends many messages
  f.start();
  CHECK(f.send({"+15145550333", "before"}).body.find("not registered") != std::string::npos);
  REQUIRE(f.service->cli({"users", "add", "--id", "3", "--phone", "+15145550333"}).status == 0);
  CHECK(eventually([&] { return twiml_message(f.send({"+15145550333", "after"}).body) == "agent 3: after"; }));
  // Moving the number to another user reroutes it: never to the old owner again.
  REQUIRE(f.service->cli({"users", "phones", "remove", "+15145550333"}).status == 0);
  REQUIRE(f.service->cli({"users", "phones", "add", "2", "+15145550333"}).status == 0);
  CHECK(eventually([&] { return twiml_message(f.send({"+15145550333", "moved"}).body) == "agent 2: moved"; }));
}

TEST_CASE("every thread of the service runs under SCHED_BATCH") {
  Fixture f;
  f.start();
  REQUIRE(f.send({kAda, "wake every kind of thread"}).status == 200);
  int threads = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(f.service->pid()) + "/task")) {
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // Fields after the command name (which may hold spaces), counted from field 3; policy is 41.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::vector<std::string> fields{std::istream_iterator<std::string>(rest), {}};
    REQUIRE(fields.size() > 38);
    CAPTURE(task.path().string());
    CHECK(std::stoi(fields[41 - 3]) == SCHED_BATCH);
    ++threads;
  }
  CHECK(threads > 10);
}

TEST_CASE("health reports ok with the version") {
  Fixture f;
  f.start();
  auto health = http_get(f.service->port(), "/sms-router/health");
  CHECK(health.status == 200);
  auto body = json::parse(health.body);
  CHECK(body["status"] == "ok");
  CHECK(body["database"] == "ok");
  CHECK(body["version"].is_string());
}

TEST_CASE("after kill -9 the service restarts and delivers every message it had acknowledged") {
  std::atomic<bool> agent_down{true};  // declared first: the fake agent uses it until the fixture ends
  Fixture f;
  f.config["agent"]["inline_wait_ms"] = 100;
  f.agent.set_behaviour([&](const FakeAgent::Request& r) {
    if (agent_down) return FakeAgent::Response{503, "{}"};
    return FakeAgent::Response{200, json{{"reply", "ok " + r.body["message"]["body"].get<std::string>()}}.dump()};
  });
  f.config["agent"]["max_attempts"] = 100;
  f.start();
  std::vector<std::string> sids;
  for (int i = 0; i < 10; ++i) {
    Sms sms{i % 2 ? kAda : kBob, "m" + std::to_string(i)};
    sms.sid = new_message_sid();
    REQUIRE(f.send(sms).status == 200);
    sids.push_back(sms.sid);
  }
  f.service->kill9();
  agent_down = false;
  f.service->start();
  for (const auto& sid : sids) {
    CHECK(eventually([&] { return f.agent.count_sid(sid) >= 1; }, std::chrono::seconds(20)));
  }
  CHECK(eventually([&] { return f.count("SELECT count(*) FROM inbound_messages WHERE state = 'pending'") == 0; }));
}

TEST_CASE("SIGTERM stops the service cleanly with exit status 0") {
  Fixture f;
  f.start();
  REQUIRE(f.send({kAda, "hi"}).status == 200);
  CHECK(f.service->stop() == 0);
  CHECK(f.service->log().find("event=serve.stopped") != std::string::npos);
}

TEST_CASE("an agent call that exceeds agent.timeout_ms is abandoned and retried and the sender finally gets replies.error") {
  Fixture f;
  f.config["agent"]["timeout_ms"] = 300;
  f.config["agent"]["max_attempts"] = 2;
  f.config["agent"]["inline_wait_ms"] = 10000;
  f.config["replies"]["error"] = "Sorry, try again later.";
  f.agent.set_behaviour([](const FakeAgent::Request&) {
    return FakeAgent::Response{200, json{{"reply", "too late"}}.dump(), std::chrono::milliseconds(1500)};
  });
  f.start();
  auto answer = f.send({kAda, "are you slow?"});
  CHECK(twiml_message(answer.body) == "Sorry, try again later.");
  CHECK(f.agent.count() == 2);
  CHECK(f.count("SELECT count(*) FROM inbound_messages WHERE state = 'failed' AND attempts = 2") == 1);
}
