// The durable pipeline end to end: the real binary, a real SQLite file, a fake agent and a
// fake Twilio REST API that are both real HTTP servers. Covers replies sent through the
// REST API, retries on both sides, status callbacks, opt-outs learnt from Twilio, the spam
// filter, admin messages, restarts, kill -9 under load and SIGTERM while work is stuck.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace smsr;
using namespace smsr::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A second router number: replies must come from the number the user wrote to.
constexpr const char* kOtherRouterNumber = "+15145550900";
constexpr const char* kAdminToken = "admin-token-for-pipeline-tests-0123456789";
constexpr const char* kStatusPath = "/sms-router/webhook/status";
constexpr const char* kAdminMessagesPath = "/sms-router/admin/messages";

// RFC 4648 base64, written here so the test does not share the router's code.
std::string base64(const std::string& in) {
  static const char* const table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(in[k])); };
  for (; i + 2 < in.size(); i += 3) {
    std::uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += table[n & 63];
  }
  if (in.size() - i == 1) {
    std::uint32_t n = byte(i) << 16;
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += "==";
  } else if (in.size() - i == 2) {
    std::uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

HttpAnswer post_json(int port, const std::string& path, const std::string& body, const std::string& authorization) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  httplib::Headers headers;
  if (!authorization.empty()) headers.emplace("Authorization", authorization);
  auto res = client.Post(path, headers, body, "application/json");
  if (!res) return {0, "connection failed: " + httplib::to_string(res.error()), "", ""};
  return {res->status, res->body, res->get_header_value("Content-Type"), res->get_header_value("X-Request-Id")};
}

// A status callback the way Twilio posts it.
FormFields status_fields(const std::string& sid, const std::string& status, const std::string& error_code = "") {
  FormFields f = {{"MessageSid", sid},       {"SmsSid", sid},       {"AccountSid", kAccountSid},
                  {"MessageStatus", status}, {"SmsStatus", status}, {"To", kAda},
                  {"From", kRouterNumber},   {"ApiVersion", "2010-04-01"}};
  if (!error_code.empty()) f.emplace_back("ErrorCode", error_code);
  return f;
}

// Signed like every Twilio request: over public_url + path, with the auth token.
HttpAnswer post_status(int port, const FormFields& fields, const std::string& token = kAuthToken,
                       const std::string& public_url = "http://localhost:8000") {
  std::string signature = compute_signature(token, signature_payload(public_url + kStatusPath, fields));
  return post_raw(port, kStatusPath, encode_form(fields), {{"X-Twilio-Signature", signature}});
}

std::string sql_literal(const std::string& text) { return "'" + text + "'"; }

struct Fixture {
  TempDir dir;
  FakeAgent agent;
  FakeTwilio twilio;
  json config = base_config(dir);
  std::string public_url = "http://localhost:8000";
  std::unique_ptr<Service> service;

  Fixture() {
    config["agent"]["url"] = agent.url();
    config["twilio"]["api_base_url"] = twilio.url();
    config["twilio"]["numbers"] = {kRouterNumber, kOtherRouterNumber};
  }

  // Writes the configuration and creates Ada (two numbers) and Bob through the CLI.
  void create() {
    config["public_url"] = public_url;
    service = std::make_unique<Service>(dir, config);
    REQUIRE(service->cli({"users", "add", "--id", "1", "--phone", kAda, "--phone", kAdaSecond,
                          "--email", "ada@example.com", "--name", "Ada"}).status == 0);
    REQUIRE(service->cli({"users", "add", "--id", "2", "--phone", kBob, "--email", "bob@example.com"})
                .status == 0);
  }

  void start() {
    if (!service) create();
    service->start();
  }

  // An agent slower than the webhook waits: its reply goes out through the REST API.
  void slow_agent(const std::string& reply) {
    config["agent"]["inline_wait_ms"] = 100;
    agent.set_behaviour([reply](const FakeAgent::Request&) {
      return FakeAgent::Response{200, json{{"reply", reply}}.dump(), 600ms};
    });
  }

  HttpAnswer send(const Sms& sms) { return post_webhook(service->port(), sms_fields(sms), kAuthToken, public_url); }

  HttpAnswer admin_message(long long user_id, const std::string& body,
                           const std::string& authorization = std::string("Bearer ") + kAdminToken) {
    return post_json(service->port(), kAdminMessagesPath, json{{"user_id", user_id}, {"body", body}}.dump(),
                     authorization);
  }

  long long count(const std::string& sql) {
    SQLite::Database db(dir.file("router.db"));
    return db.execAndGet(sql).getInt64();
  }

  // The first column of the first row as text; "" for no row or NULL.
  std::string text(const std::string& sql) {
    SQLite::Database db(dir.file("router.db"));
    SQLite::Statement st(db, sql);
    if (!st.executeStep() || st.getColumn(0).isNull()) return "";
    return st.getColumn(0).getString();
  }

  // Every row, every column as text (NULL as "").
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    SQLite::Database db(dir.file("router.db"));
    SQLite::Statement st(db, sql);
    std::vector<std::vector<std::string>> out;
    while (st.executeStep()) {
      std::vector<std::string> row;
      for (int i = 0; i < st.getColumnCount(); ++i) {
        row.push_back(st.getColumn(i).isNull() ? "" : st.getColumn(i).getString());
      }
      out.push_back(std::move(row));
    }
    return out;
  }

  std::string inbound_state(const std::string& sid) {
    return text("SELECT state FROM inbound_messages WHERE message_sid = " + sql_literal(sid));
  }

  // True when `reply` reached `to`: inline in the webhook's answer, or else later through
  // the REST API.
  bool reply_reached(const HttpAnswer& answer, const std::string& reply, const std::string& to) {
    if (twiml_message(answer.body) == reply) return true;
    return eventually([&] {
      for (const auto& r : twilio.accepted()) {
        if (r.field("Body") == reply && r.field("To") == to) return true;
      }
      return false;
    });
  }
};

// Words of varied lengths, about `chars` characters in all, separated by single spaces.
std::vector<std::string> many_words(std::size_t chars) {
  std::vector<std::string> words;
  std::size_t total = 0;
  for (int i = 0; total < chars; ++i) {
    std::string word = "w" + std::to_string(i) + std::string(static_cast<std::size_t>(i * 7 % 13), static_cast<char>('a' + i % 26));
    total += word.size() + 1;
    words.push_back(std::move(word));
  }
  return words;
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

}  // namespace

TEST_CASE("a reply slower than inline_wait_ms is sent through the REST API from the number the user wrote to") {
  REQUIRE(base64("Aladdin:open sesame") == "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");  // the helper itself
  Fixture f;
  f.public_url = "https://sms.example.org";
  f.slow_agent("late reply");
  f.start();
  Sms sms{kAda, "take your time"};
  sms.to = kOtherRouterNumber;
  auto answer = f.send(sms);
  REQUIRE(answer.status == 200);
  CHECK(answer.body.find("<Response/>") != std::string::npos);
  CHECK_FALSE(twiml_message(answer.body).has_value());

  REQUIRE(eventually([&] { return f.twilio.accepted().size() == 1; }));
  auto r = f.twilio.requests().front();
  CHECK(r.account_sid == kAccountSid);
  CHECK(r.authorization == "Basic " + base64(std::string(kAccountSid) + ":" + kAuthToken));
  CHECK(r.content_type.find("application/x-www-form-urlencoded") == 0);
  CHECK(r.field("To") == kAda);
  CHECK(r.field("From") == kOtherRouterNumber);
  CHECK(r.field("Body") == "late reply");
  CHECK(r.field("StatusCallback") == "https://sms.example.org/sms-router/webhook/status");

  const std::string sid = r.answered_sid;
  REQUIRE_FALSE(sid.empty());
  CHECK(eventually([&] {
    return f.count("SELECT count(*) FROM usage_logs WHERE message_direction = 'outbound' AND user_id = 1 "
                   "AND message_content = 'late reply' AND twilio_message_sid = " + sql_literal(sid)) == 1;
  }));
  CHECK(f.text("SELECT state FROM outbound_messages WHERE twilio_sid = " + sql_literal(sid)) == "sent");
  CHECK(f.twilio.count() == 1);
}

TEST_CASE("a reply of about 4000 characters goes out as ordered parts split at word boundaries with a usage log row each") {
  Fixture f;
  auto words = many_words(4000);
  const std::string reply = join(words, " ");
  REQUIRE(reply.size() >= 3900);
  f.slow_agent(reply);
  f.start();
  auto answer = f.send({kAda, "tell me everything"});
  REQUIRE(answer.status == 200);
  CHECK_FALSE(twiml_message(answer.body).has_value());

  REQUIRE(eventually([&] {
    auto total = f.count("SELECT count(*) FROM outbound_messages");
    return total > 0 && f.count("SELECT count(*) FROM outbound_messages WHERE state = 'sent'") == total;
  }));
  auto parts = f.twilio.requests();
  REQUIRE(parts.size() >= 3);
  CHECK(static_cast<long long>(parts.size()) == f.count("SELECT count(*) FROM outbound_messages"));
  std::vector<std::string> bodies;
  for (const auto& p : parts) {
    const std::string body = p.field("Body");
    CHECK(p.answered_status == 201);
    CHECK(p.field("To") == kAda);
    CHECK(p.field("From") == kRouterNumber);
    CHECK(!body.empty());
    CHECK(body.size() <= 1600);  // ASCII: one byte per character
    CHECK(body.front() != ' ');
    CHECK(body.back() != ' ');
    bodies.push_back(body);
  }
  // A word cut in two would come back as two words.
  CHECK(join(bodies, " ") == reply);

  auto logs = f.rows(
      "SELECT message_content, twilio_message_sid FROM usage_logs WHERE message_direction = 'outbound' "
      "AND user_id = 1 ORDER BY id");
  REQUIRE(logs.size() == parts.size());
  for (std::size_t i = 0; i < logs.size(); ++i) {
    CHECK(logs[i][0] == bodies[i]);
    CHECK(logs[i][1] == parts[i].answered_sid);
  }
}

TEST_CASE("Twilio answering 500 then 429 then 201 gets the message sent once after three attempts") {
  Fixture f;
  f.twilio.set_behaviour([](const FakeTwilio::Request&, std::size_t index) {
    if (index == 0) return FakeTwilio::error(500, 20500, "Internal Server Error");
    if (index == 1) return FakeTwilio::error(429, 20429, "Too Many Requests");
    return FakeTwilio::Response{};
  });
  f.slow_agent("worth the wait");
  f.start();
  REQUIRE(f.send({kAda, "hello"}).status == 200);
  REQUIRE(eventually([&] { return f.text("SELECT state FROM outbound_messages") == "sent"; }));
  CHECK(f.twilio.count() == 3);
  auto accepted = f.twilio.accepted();
  REQUIRE(accepted.size() == 1);
  CHECK(accepted[0].field("Body") == "worth the wait");
  CHECK(f.count("SELECT attempts FROM outbound_messages") == 3);
  CHECK(f.text("SELECT twilio_sid FROM outbound_messages") == accepted[0].answered_sid);
  for (const auto& r : f.twilio.requests()) CHECK(r.field("Body") == "worth the wait");
}

TEST_CASE("Twilio rejecting a message with 400 code 21211 is not retried and the message is marked failed") {
  Fixture f;
  f.config["admin"]["token"] = kAdminToken;
  f.twilio.set_behaviour([](const FakeTwilio::Request&, std::size_t) {
    return FakeTwilio::error(400, 21211, "The 'To' number is not a valid phone number.");
  });
  f.start();
  REQUIRE(f.admin_message(1, "this will bounce").status == 202);
  REQUIRE(eventually([&] { return f.text("SELECT state FROM outbound_messages") == "failed"; }));
  CHECK(f.twilio.count() == 1);
  CHECK(f.count("SELECT error_code FROM outbound_messages") == 21211);
  CHECK(f.count("SELECT count(*) FROM opt_outs") == 0);
  CHECK(f.text("SELECT final_status FROM usage_logs WHERE message_direction = 'outbound'") == "failed");
  CHECK(f.count("SELECT success FROM usage_logs WHERE message_direction = 'outbound'") == 0);
}

TEST_CASE("Twilio answering error 21610 marks the number opted out for later admin and inbound messages") {
  Fixture f;
  f.config["admin"]["token"] = kAdminToken;
  f.twilio.set_behaviour([](const FakeTwilio::Request&, std::size_t) {
    return FakeTwilio::error(400, 21610, "Attempt to send to unsubscribed recipient");
  });
  f.start();
  REQUIRE(f.admin_message(1, "anyone there?").status == 202);
  REQUIRE(eventually([&] { return f.text("SELECT state FROM outbound_messages") == "failed"; }));
  CHECK(f.twilio.count() == 1);
  CHECK(f.count("SELECT count(*) FROM opt_outs WHERE phone_number = " + sql_literal(kAda)) == 1);

  auto refused = f.admin_message(1, "second try");
  CHECK(refused.status == 409);
  CHECK(f.count("SELECT count(*) FROM outbound_messages") == 1);

  Sms sms{kAda, "I am back but never said START"};
  sms.sid = new_message_sid();
  auto answer = f.send(sms);
  CHECK(answer.status == 200);
  CHECK_FALSE(twiml_message(answer.body).has_value());
  CHECK(f.agent.count() == 0);
  CHECK(f.text("SELECT outcome FROM inbound_messages WHERE message_sid = " + sql_literal(sms.sid)) == "opted_out");
  CHECK(f.twilio.count() == 1);
}

TEST_CASE("an agent answering 503 twice and then a reply is retried with the same Idempotency-Key and the user gets the reply") {
  std::atomic<int> calls{0};
  Fixture f;
  f.agent.set_behaviour([&calls](const FakeAgent::Request&) {
    if (calls++ < 2) return FakeAgent::Response{503, R"({"error":"busy"})"};
    return FakeAgent::Response{200, json{{"reply", "third time lucky"}}.dump()};
  });
  f.start();
  Sms sms{kAda, "are you up?"};
  sms.sid = new_message_sid();
  auto answer = f.send(sms);
  REQUIRE(answer.status == 200);
  CHECK(f.reply_reached(answer, "third time lucky", kAda));
  CHECK(eventually([&] { return f.inbound_state(sms.sid) == "done"; }));
  auto requests = f.agent.requests();
  CHECK(requests.size() == 3);
  for (const auto& r : requests) {
    CHECK(r.idempotency_key == sms.sid);
    CHECK(r.body["message"]["sid"] == sms.sid);
  }
}

TEST_CASE("an agent answering 400 is not retried and the sender gets replies.error") {
  Fixture f;
  f.config["replies"]["error"] = "Sorry: that did not work.";
  f.agent.set_behaviour([](const FakeAgent::Request&) { return FakeAgent::Response{400, R"({"error":"bad"})"}; });
  f.start();
  Sms sms{kAda, "malformed for the agent"};
  sms.sid = new_message_sid();
  auto answer = f.send(sms);
  REQUIRE(answer.status == 200);
  CHECK(f.reply_reached(answer, "Sorry: that did not work.", kAda));
  REQUIRE(eventually([&] { return f.inbound_state(sms.sid) == "failed"; }));
  CHECK(f.agent.count() == 1);
}

TEST_CASE("an agent failing with 503 on every attempt is called agent.max_attempts times and the message is marked failed") {
  Fixture f;
  f.config["agent"]["max_attempts"] = 2;
  f.config["replies"]["error"] = "Sorry: try again later.";
  f.agent.set_behaviour([](const FakeAgent::Request&) { return FakeAgent::Response{503, "{}"}; });
  f.start();
  Sms sms{kBob, "hello?"};
  sms.sid = new_message_sid();
  auto answer = f.send(sms);
  REQUIRE(answer.status == 200);
  CHECK(f.reply_reached(answer, "Sorry: try again later.", kBob));
  REQUIRE(eventually([&] { return f.inbound_state(sms.sid) == "failed"; }));
  CHECK(f.agent.count() == 2);
  CHECK(f.count("SELECT attempts FROM inbound_messages WHERE message_sid = " + sql_literal(sms.sid)) == 2);
}

TEST_CASE("status callbacks arriving out of order keep the highest status and unsigned ones change nothing") {
  Fixture f;
  f.config["admin"]["token"] = kAdminToken;
  f.start();
  const int port = f.service->port();
  REQUIRE(f.admin_message(1, "track me").status == 202);
  REQUIRE(eventually([&] { return f.text("SELECT state FROM outbound_messages") == "sent"; }));
  const std::string sid = f.twilio.accepted().at(0).answered_sid;
  REQUIRE(f.text("SELECT twilio_sid FROM outbound_messages") == sid);
  const std::string final_status = "SELECT final_status FROM usage_logs WHERE twilio_message_sid = " + sql_literal(sid);
  const std::string delivery_status = "SELECT delivery_status FROM outbound_messages WHERE twilio_sid = " + sql_literal(sid);
  REQUIRE(f.text(final_status) == "unknown");

  // Unsigned, or signed with another token: refused, nothing changes.
  CHECK(post_raw(port, kStatusPath, encode_form(status_fields(sid, "delivered")), {}).status == 403);
  CHECK(post_status(port, status_fields(sid, "delivered"), "not-the-auth-token").status == 403);
  CHECK(f.text(final_status) == "unknown");
  CHECK(f.text(delivery_status) != "delivered");

  CHECK(post_status(port, status_fields(sid, "delivered")).status == 200);
  CHECK(post_status(port, status_fields(sid, "sent")).status == 200);
  CHECK(f.text(final_status) == "delivered");
  CHECK(f.text(delivery_status) == "delivered");

  CHECK(post_status(port, status_fields("SM00000000000000000000000000000000", "delivered")).status == 200);
  CHECK(f.text(final_status) == "delivered");
}

TEST_CASE("a failed status callback with ErrorCode 21610 marks the recipient opted out") {
  Fixture f;
  f.config["admin"]["token"] = kAdminToken;
  f.start();
  const int port = f.service->port();
  REQUIRE(f.admin_message(2, "hello Bob").status == 202);
  REQUIRE(eventually([&] { return f.text("SELECT state FROM outbound_messages") == "sent"; }));
  const std::string sid = f.twilio.accepted().at(0).answered_sid;
  REQUIRE(f.count("SELECT count(*) FROM opt_outs") == 0);

  CHECK(post_status(port, status_fields(sid, "failed", "21610")).status == 200);
  CHECK(f.count("SELECT count(*) FROM opt_outs WHERE phone_number = " + sql_literal(kBob)) == 1);
  CHECK(f.text("SELECT final_status FROM usage_logs WHERE twilio_message_sid = " + sql_literal(sid)) == "failed");
  CHECK(f.admin_message(2, "hello again").status == 409);
  CHECK(f.twilio.count() == 1);
}

TEST_CASE("the per-sender rate limit holds across a restart") {
  Fixture f;
  f.config["limits"]["per_sender_per_minute"] = 3;
  f.start();
  for (int i = 0; i < 3; ++i) {
    auto answer = f.send({kAda, "before " + std::to_string(i)});
    CHECK(twiml_message(answer.body) == "agent 1: before " + std::to_string(i));
  }
  REQUIRE(f.agent.count() == 3);
  CHECK(f.service->stop() == 0);
  f.service->start();

  Sms fourth{kAda, "after restart"};
  fourth.sid = new_message_sid();
  auto answer = f.send(fourth);
  CHECK(answer.status == 200);
  CHECK_FALSE(twiml_message(answer.body).has_value());
  CHECK(f.agent.count() == 3);
  CHECK(f.text("SELECT outcome FROM inbound_messages WHERE message_sid = " + sql_literal(fourth.sid)) == "rate_limited");
  CHECK(f.count("SELECT count(*) FROM inbound_messages WHERE message_sid = " + sql_literal(fourth.sid)) == 1);
}

TEST_CASE("every webhook answered 200 before a kill -9 under concurrent load reaches the agent after a restart") {
  constexpr int kUsers = 50;
  constexpr int kPerUser = 6;
  std::atomic<bool> healthy{false};
  std::mutex delivered_mu;
  std::set<std::string> delivered;
  Fixture f;
  f.config["agent"]["inline_wait_ms"] = 100;
  f.config["agent"]["max_attempts"] = 1000;
  f.agent.set_behaviour([&](const FakeAgent::Request& r) {
    if (!healthy) return FakeAgent::Response{503, "{}"};
    {
      std::lock_guard lock(delivered_mu);
      delivered.insert(r.body["message"]["sid"].get<std::string>());
    }
    return FakeAgent::Response{200, json{{"reply", "ok"}}.dump()};
  });
  f.create();
  auto phone = [](int u) { return "+15145550" + std::to_string(300 + u); };
  std::ostringstream csv;
  csv << "id,phone_number,email\n";
  for (int u = 0; u < kUsers; ++u) csv << 100 + u << "," << phone(u) << ",load" << u << "@example.com\n";
  write_file(f.dir.file("users.csv"), csv.str());
  auto imported = f.service->cli({"users", "import", f.dir.file("users.csv")});
  REQUIRE(imported.status == 0);
  f.service->start();
  const int port = f.service->port();

  std::mutex acked_mu;
  std::vector<std::string> acked;
  std::atomic<int> answered{0};
  std::vector<std::thread> senders;
  for (int u = 0; u < kUsers; ++u) {
    senders.emplace_back([&, u] {
      for (int k = 0; k < kPerUser; ++k) {
        Sms sms{phone(u), "load " + std::to_string(u) + "/" + std::to_string(k)};
        sms.sid = new_message_sid();
        auto answer = post_webhook(port, sms_fields(sms));
        if (answer.status == 200) {
          std::lock_guard lock(acked_mu);
          acked.push_back(sms.sid);
        }
        if (answer.status != 0) ++answered;
      }
    });
  }
  std::thread killer([&] {
    eventually([&] { return answered >= kUsers * kPerUser / 2; }, 60s);
    f.service->kill9();
  });
  for (auto& t : senders) t.join();
  killer.join();
  INFO("webhooks answered 200 before the kill: " << acked.size());
  REQUIRE(acked.size() >= static_cast<std::size_t>(kUsers * kPerUser / 2));

  healthy = true;
  f.service->start();
  auto missing = [&] {
    std::lock_guard lock(delivered_mu);
    std::vector<std::string> out;
    for (const auto& sid : acked) {
      if (!delivered.count(sid)) out.push_back(sid);
    }
    return out;
  };
  CHECK(eventually([&] { return missing().empty(); }, 60s));
  INFO("acknowledged but never delivered: " << join(missing(), " "));
  CHECK(missing().empty());
  CHECK(eventually([&] { return f.count("SELECT count(*) FROM inbound_messages WHERE state = 'pending'") == 0; },
                   60s));
}

TEST_CASE("with the spam filter on a spammy text from a registered user reaches no agent and an ordinary one does") {
  Fixture f;
  f.config["spam"]["enabled"] = true;
  f.start();
  Sms spam{kAda, "CONGRATULATIONS!!! You WON a FREE prize, claim now at http://bit.ly/x - act now"};
  spam.sid = new_message_sid();
  auto answer = f.send(spam);
  CHECK(answer.status == 200);
  CHECK(answer.body.find("<Response/>") != std::string::npos);
  CHECK(f.agent.count() == 0);
  CHECK(f.text("SELECT outcome FROM inbound_messages WHERE message_sid = " + sql_literal(spam.sid)) == "spam");
  // Logged once, with the webhook's request id, never with the text.
  const std::string log = f.service->log();
  const std::string spam_line = "event=message.spam message_sid=" + spam.sid;
  const auto first = log.find(spam_line);
  REQUIRE(first != std::string::npos);
  CHECK(log.find(spam_line, first + 1) == std::string::npos);
  const std::string line = log.substr(first, log.find('\n', first) - first);
  CHECK(line.find("request_id=" + answer.request_id) != std::string::npos);
  CHECK(line.find("CONGRATULATIONS") == std::string::npos);

  auto ordinary = f.send({kAda, "Can you remind me to call mom at 5?"});
  CHECK(twiml_message(ordinary.body) == "agent 1: Can you remind me to call mom at 5?");
  CHECK(f.agent.count() == 1);
}

TEST_CASE("with the spam filter off by default the same spammy text reaches the agent") {
  Fixture f;
  f.start();
  const std::string text = "CONGRATULATIONS!!! You WON a FREE prize, claim now at http://bit.ly/x - act now";
  Sms spam{kAda, text};
  spam.sid = new_message_sid();
  auto answer = f.send(spam);
  CHECK(twiml_message(answer.body) == "agent 1: " + text);
  CHECK(f.agent.count_sid(spam.sid) == 1);
  CHECK(f.text("SELECT outcome FROM inbound_messages WHERE message_sid = " + sql_literal(spam.sid)) == "routed");
}

TEST_CASE("the admin messages endpoint answers 403 while admin.token is unset") {
  Fixture f;
  f.start();
  auto answer = f.admin_message(1, "hello");
  CHECK(answer.status == 403);
  auto anything = f.admin_message(1, "hello", "Bearer anything-at-all-anything-at-all-0000");
  CHECK(anything.status == 403);
  CHECK(f.count("SELECT count(*) FROM outbound_messages") == 0);
  CHECK(f.twilio.count() == 0);
}

TEST_CASE("an admin message goes to the user's primary number from the first router number unless the user opted out") {
  Fixture f;
  f.config["admin"]["token"] = kAdminToken;
  f.start();
  const int port = f.service->port();

  CHECK(f.admin_message(1, "hello", "").status == 401);
  CHECK(f.admin_message(1, "hello", "Bearer admin-token-for-pipeline-tests-WRONG-0000000").status == 401);
  CHECK(f.admin_message(1, "hello", kAdminToken).status == 401);  // no "Bearer " scheme
  CHECK(f.count("SELECT count(*) FROM outbound_messages") == 0);

  auto accepted = f.admin_message(1, "Your appointment is tomorrow at 10.");
  CHECK(accepted.status == 202);
  REQUIRE(eventually([&] { return f.twilio.accepted().size() == 1; }));
  auto r = f.twilio.requests().front();
  CHECK(r.field("To") == kAda);
  CHECK(r.field("From") == kRouterNumber);
  CHECK(r.field("Body") == "Your appointment is tomorrow at 10.");
  CHECK(r.authorization == "Basic " + base64(std::string(kAccountSid) + ":" + kAuthToken));
  CHECK(r.field("StatusCallback") == "http://localhost:8000/sms-router/webhook/status");

  CHECK(f.admin_message(999, "nobody").status == 404);
  std::string bearer = std::string("Bearer ") + kAdminToken;
  CHECK(post_json(port, kAdminMessagesPath, R"({"user_id": 1, "body": )", bearer).status == 400);
  CHECK(post_json(port, kAdminMessagesPath, R"({"user_id": 1})", bearer).status == 400);
  CHECK(post_json(port, kAdminMessagesPath, R"({"user_id": "one", "body": "x"})", bearer).status == 400);

  auto stop = f.send({kBob, "STOP"});
  REQUIRE(stop.status == 200);
  CHECK(f.admin_message(2, "are you still there?").status == 409);
  CHECK(f.count("SELECT count(*) FROM outbound_messages WHERE to_number = " + sql_literal(kBob)) == 0);

  // A later message to Ada goes out; still nothing for Bob.
  CHECK(f.admin_message(1, "one more").status == 202);
  REQUIRE(eventually([&] { return f.twilio.accepted().size() == 2; }));
  for (const auto& req : f.twilio.requests()) CHECK(req.field("To") != kBob);
}

TEST_CASE("SIGTERM while the agent is stuck exits 0 within 10 s and the message is delivered after a restart") {
  std::mutex stuck_mu;
  std::condition_variable stuck_cv;
  bool released = false;
  std::atomic<bool> stuck{true};
  Fixture f;
  f.config["agent"]["inline_wait_ms"] = 100;
  f.config["agent"]["timeout_ms"] = 30000;
  f.agent.set_behaviour([&](const FakeAgent::Request& r) {
    if (stuck) {
      // Stuck for 20 s unless the test lets go.
      std::unique_lock lock(stuck_mu);
      stuck_cv.wait_for(lock, 20s, [&] { return released; });
    }
    return FakeAgent::Response{200, json{{"reply", "finally: " + r.body["message"]["body"].get<std::string>()}}.dump()};
  });
  auto release = [&] {
    {
      std::lock_guard lock(stuck_mu);
      released = true;
    }
    stuck_cv.notify_all();
  };
  struct ReleaseAtExit {
    std::function<void()> fn;
    ~ReleaseAtExit() { fn(); }
  } release_at_exit{release};

  f.start();
  Sms sms{kAda, "slow thoughts"};
  sms.sid = new_message_sid();
  auto answer = f.send(sms);
  REQUIRE(answer.status == 200);
  CHECK_FALSE(twiml_message(answer.body).has_value());
  REQUIRE(eventually([&] { return f.agent.count() == 1; }));

  auto started = std::chrono::steady_clock::now();
  int status = f.service->stop();
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(status == 0);
  CHECK(took < 10s);
  CHECK(f.inbound_state(sms.sid) == "pending");
  CHECK(f.twilio.count() == 0);

  stuck = false;
  release();
  f.service->start();
  CHECK(eventually([&] {
    for (const auto& r : f.twilio.accepted()) {
      if (r.field("Body") == "finally: slow thoughts" && r.field("To") == kAda) return true;
    }
    return false;
  }, 20s));
  CHECK(eventually([&] { return f.inbound_state(sms.sid) == "done"; }));
}
