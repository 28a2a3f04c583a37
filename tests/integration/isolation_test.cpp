// Guarantee 1: a message reaches only the agent of the user who owns the sender's number,
// and an agent request carries no other user's data, under heavy concurrency.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <set>

#include "tests/integration/harness.hpp"

using namespace smsr;
using namespace smsr::test;
using nlohmann::json;

namespace {

std::string number_of(int user) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "+1514555%04d", 1000 + user);
  return buf;
}

std::string extra_number_of(int user) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "+1438555%04d", 1000 + user);
  return buf;
}

}  // namespace

TEST_CASE("200 concurrent senders each reach only their own agent with only their own history") {
  constexpr int kUsers = 200;
  constexpr int kMessagesPerUser = 3;

  TempDir dir;
  FakeAgent agent;
  json config = base_config(dir);
  config["agent"]["url"] = agent.url();
  config["agent"]["history_messages"] = 50;
  config["agent"]["inline_wait_ms"] = 10000;
  Service service(dir, config);

  std::string csv = "id,phone_number,email,full_name,extra_phone_numbers\n";
  for (int u = 1; u <= kUsers; ++u) {
    csv += std::to_string(u) + "," + number_of(u) + ",user" + std::to_string(u) + "@example.com,User " +
           std::to_string(u) + "," + extra_number_of(u) + "\n";
  }
  write_file(dir.file("users.csv"), csv);
  auto imported = service.cli({"users", "import", dir.file("users.csv")});
  REQUIRE(imported.status == 0);
  service.start();

  // Each user writes from both of their numbers, in turn; all users at once.
  std::atomic<int> wrong_replies{0};
  std::atomic<int> failed_posts{0};
  std::vector<std::thread> senders;
  for (int u = 1; u <= kUsers; ++u) {
    senders.emplace_back([&, u] {
      for (int k = 0; k < kMessagesPerUser; ++k) {
        std::string from = k % 2 ? extra_number_of(u) : number_of(u);
        std::string body = "u" + std::to_string(u) + "-m" + std::to_string(k);
        auto answer = post_webhook(service.port(), sms_fields({from, body}));
        if (answer.status != 200) ++failed_posts;
        if (twiml_message(answer.body) != "agent " + std::to_string(u) + ": " + body) ++wrong_replies;
      }
    });
  }
  for (auto& t : senders) t.join();
  CHECK(failed_posts == 0);
  CHECK(wrong_replies == 0);

  auto requests = agent.requests();
  REQUIRE(requests.size() == static_cast<std::size_t>(kUsers * kMessagesPerUser));
  std::map<int, std::vector<std::string>> bodies_by_user;
  for (const auto& r : requests) {
    int user = r.body["user"]["id"].get<int>();
    std::string prefix = "u" + std::to_string(user) + "-";
    std::string body = r.body["message"]["body"];
    // Routed to the owner of the sending number, on the owner's own URL.
    CHECK(body.rfind(prefix, 0) == 0);
    CHECK(r.path == "/agent/" + std::to_string(user));
    CHECK(r.body["user"]["email"] == "user" + std::to_string(user) + "@example.com");
    CHECK(r.body["user"]["phone_number"] == number_of(user));
    std::string from = r.body["message"]["from"];
    CHECK((from == number_of(user) || from == extra_number_of(user)));
    // History: exactly this user's earlier messages and the replies to them, in order.
    const auto& history = r.body["history"];
    int k = std::stoi(body.substr(body.find("-m") + 2));
    REQUIRE(history.size() == static_cast<std::size_t>(2 * k));
    for (int i = 0; i < k; ++i) {
      std::string earlier = prefix + "m" + std::to_string(i);
      CHECK(history[static_cast<std::size_t>(2 * i)]["body"] == earlier);
      CHECK(history[static_cast<std::size_t>(2 * i)]["direction"] == "inbound");
      CHECK(history[static_cast<std::size_t>(2 * i + 1)]["body"] == "agent " + std::to_string(user) + ": " + earlier);
      CHECK(history[static_cast<std::size_t>(2 * i + 1)]["direction"] == "outbound");
    }
    bodies_by_user[user].push_back(body);
  }
  // Per-user order: each user's messages reached the agent in the order they were sent.
  REQUIRE(bodies_by_user.size() == static_cast<std::size_t>(kUsers));
  for (const auto& [user, bodies] : bodies_by_user) {
    std::vector<std::string> expected;
    for (int k = 0; k < kMessagesPerUser; ++k) expected.push_back("u" + std::to_string(user) + "-m" + std::to_string(k));
    CHECK(bodies == expected);
  }
}

TEST_CASE("messages a user sends in a burst reach the agent one at a time and in arrival order while other users proceed") {
  // Declared before the agent: its server threads use them until the agent is destroyed.
  std::mutex mu;
  std::map<int, int> in_flight;  // user -> agent calls in progress
  std::atomic<int> overlap{0};
  TempDir dir;
  FakeAgent agent;
  agent.set_behaviour([&](const FakeAgent::Request& r) {
    int user = r.body["user"]["id"].get<int>();
    {
      std::lock_guard lock(mu);
      if (++in_flight[user] > 1) ++overlap;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    {
      std::lock_guard lock(mu);
      --in_flight[user];
    }
    return FakeAgent::Response{200, json{{"reply", nullptr}}.dump()};
  });
  json config = base_config(dir);
  config["agent"]["url"] = agent.url();
  config["agent"]["inline_wait_ms"] = 0;
  Service service(dir, config);
  REQUIRE(service.cli({"users", "add", "--id", "1", "--phone", number_of(1)}).status == 0);
  REQUIRE(service.cli({"users", "add", "--id", "2", "--phone", number_of(2)}).status == 0);
  service.start();

  // Sent one after another (each answered at once, inline_wait_ms = 0), so arrival order
  // is known; the agent is slow, so they queue up behind each other.
  for (int k = 0; k < 10; ++k) {
    REQUIRE(post_webhook(service.port(), sms_fields({number_of(1), "a" + std::to_string(k)})).status == 200);
    REQUIRE(post_webhook(service.port(), sms_fields({number_of(2), "b" + std::to_string(k)})).status == 200);
  }
  REQUIRE(eventually([&] { return agent.count() == 20; }, std::chrono::seconds(20)));
  CHECK(overlap == 0);
  std::vector<std::string> a, b;
  for (const auto& r : agent.requests()) {
    std::string body = r.body["message"]["body"];
    (body[0] == 'a' ? a : b).push_back(body);
  }
  for (int k = 0; k < 10; ++k) {
    CHECK(a[static_cast<std::size_t>(k)] == "a" + std::to_string(k));
    CHECK(b[static_cast<std::size_t>(k)] == "b" + std::to_string(k));
  }
}
