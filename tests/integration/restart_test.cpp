// What survives a restart, a kill -9 under load and a SIGTERM while work is stuck.
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
