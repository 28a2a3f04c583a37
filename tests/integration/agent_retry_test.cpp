// Agent calls that fail: retried with the same Idempotency-Key while retrying can help,
// then replies.error for the sender and the message marked failed.
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
