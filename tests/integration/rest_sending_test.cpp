// Replies and messages sent through Twilio's REST API: the number they come from, long
// replies in parts, retries on 429/5xx, refusals that are final, and opt-outs Twilio reports.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/pipeline_fixture.hpp"

using namespace smsr;
using namespace smsr::test;

namespace {
using Fixture = PipelineFixture;
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
