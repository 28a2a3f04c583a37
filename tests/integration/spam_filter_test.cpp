// The spam filter end to end: on, a spammy text reaches no agent; off (the default), it does.
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
