// Twilio's status callbacks: signed like webhooks, out of order, and opt-outs they report.
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
