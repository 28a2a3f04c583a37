// POST /sms-router/admin/messages: proactive messages to a user's primary number.
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
