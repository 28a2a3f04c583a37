// The routing services wired as serve wires them (InboundService → Dispatcher → Sender, a
// real store on a temp file, the real phone directory), with the two outside systems behind
// their interfaces: an agent and Twilio's REST API that answer in-process, as scripted.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "app/agent/agent.hpp"
#include "app/routing/directory.hpp"
#include "app/routing/dispatcher.hpp"
#include "app/routing/inbound.hpp"
#include "app/routing/sender.hpp"
#include "app/routing/settings.hpp"
#include "app/twilio/rest_api.hpp"
#include "core/phone.hpp"
#include "tests/unit/eventually.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace smsr;
using namespace std::chrono_literals;
using smsr::test::eventually;
using smsr::test::TempDir;

namespace {

constexpr const char* kRouterNumber = "+15005550006";
constexpr const char* kAda = "+15145550101";
constexpr const char* kBob = "+15145550102";

// The agent: answers with `answer(request)`; records every call.
class ScriptedAgent final : public Agent {
 public:
  std::function<AgentResult(const AgentRequest&)> answer = [](const AgentRequest& r) {
    return AgentResult{AgentResult::Kind::kReply, "agent " + std::to_string(r.user.id) + ": " + r.body, ""};
  };

  AgentResult call(const AgentRequest& request) override {
    {
      std::lock_guard lock(mu_);
      calls_.push_back(request);
    }
    return answer(request);
  }

  std::vector<AgentRequest> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<AgentRequest> calls_;
};

// Twilio's REST API: accepts every message and records it.
class RecordingTwilio final : public TwilioApi {
 public:
  SendResult send(const SendRequest& request) override {
    std::lock_guard lock(mu_);
    sent_.push_back(request);
    return SendResult{SendResult::Kind::kAccepted, "SM" + std::to_string(sent_.size()), "queued", 0, ""};
  }
  std::vector<SendRequest> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<SendRequest> sent_;
};

Config test_config() {
  Config config;
  config.twilio.numbers = {kRouterNumber};
  config.twilio.account_sid = "AC00000000000000000000000000000000";
  config.agent.inline_wait_ms = 5000;
  config.agent.max_attempts = 3;
  config.replies.unknown_sender = "This number is not registered.";
  config.replies.error = "Sorry, something went wrong.";
  return config;
}

struct Fixture {
  explicit Fixture(Config config = test_config()) : settings(std::move(config)) {
    add_user(1, kAda);
    add_user(2, kBob);
    sender.start();
    dispatcher.start();
  }
  ~Fixture() {
    dispatcher.stop(5s);
    sender.stop(5s);
  }

  void add_user(UserId id, const std::string& phone) {
    NewUser user;
    user.id = id;
    user.email = "user" + std::to_string(id) + "@example.org";
    user.phones = {phone};
    store.write([&](WriteTxn& txn) { txn.insert_user(user); });
  }

  InboundService::Answer receive(const std::string& from, const std::string& body, std::string sid = "") {
    InboundSms sms;
    sms.message_sid = sid.empty() ? "SM" + std::to_string(++next_sid) : std::move(sid);
    sms.account_sid = settings.current()->twilio.account_sid;
    sms.from = from;
    sms.to = kRouterNumber;
    sms.body = body;
    return inbound.receive(sms);
  }

  TempDir dir;
  Settings settings;
  Store store{dir.file("router.db"), system_clock()};
  PhoneNormalizer normalizer{"US"};
  PhoneDirectory directory{store, system_clock(), 1000, std::chrono::seconds(300)};
  ScriptedAgent agent;
  RecordingTwilio twilio;
  Sender sender{store, twilio, settings, system_clock(), SenderOptions{2, 10, 1ms, 10ms}};
  Dispatcher dispatcher{store, agent, sender, settings, system_clock(), DispatcherOptions{4, 1ms, 10ms}};
  TimerQueue timers;
  InboundService inbound{store, directory, dispatcher, normalizer, settings, system_clock(), timers};
  int next_sid = 0;
};

}  // namespace

TEST_CASE("a registered user's message reaches that user's agent alone and the reply is the webhook's TwiML") {
  Fixture f;
  auto answer = f.receive(kAda, "hello");
  CHECK(answer.outcome == Outcome::kRouted);
  CHECK_FALSE(answer.duplicate);
  CHECK(answer.twiml.find("<Message>agent 1: hello</Message>") != std::string::npos);
  auto calls = f.agent.calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].user.id == 1);
  CHECK(calls[0].from == kAda);
  CHECK(calls[0].body == "hello");

  // Bob's agent sees Bob's message, and only Bob's history.
  f.receive(kBob, "hi from bob");
  calls = f.agent.calls();
  REQUIRE(calls.size() == 2);
  CHECK(calls[1].user.id == 2);
  for (const auto& turn : calls[1].history) CHECK(turn.body.find("hello") == std::string::npos);
  CHECK(f.twilio.sent().empty());  // both replies went back inline
}

TEST_CASE("a stranger gets replies.unknown_sender once a day, and no agent hears of it") {
  Fixture f;
  auto first = f.receive("+15145559999", "who is this?");
  CHECK(first.outcome == Outcome::kUnknown);
  CHECK(first.twiml.find("This number is not registered.") != std::string::npos);
  auto second = f.receive("+15145559999", "hello?");
  CHECK(second.outcome == Outcome::kUnknown);
  CHECK(second.twiml.find("<Message>") == std::string::npos);  // the daily cap (1) is used up
  CHECK(f.agent.calls().empty());
}

TEST_CASE("a MessageSid seen before gets the first answer again and the agent sees the message once") {
  Fixture f;
  auto first = f.receive(kAda, "once", "SM-retried");
  auto again = f.receive(kAda, "once", "SM-retried");
  CHECK(again.duplicate);
  CHECK(again.outcome == Outcome::kRouted);
  CHECK(again.twiml == first.twiml);
  CHECK(f.agent.calls().size() == 1);
}

TEST_CASE("each user's messages reach the agent one at a time in arrival order while other users proceed") {
  Config config = test_config();
  config.agent.inline_wait_ms = 0;  // replies go by REST; the webhooks do not wait for them
  Fixture f(config);

  std::mutex mu;
  std::condition_variable cv;
  std::map<UserId, int> in_flight;
  int most_in_flight_per_user = 0;
  bool bob_started = false;
  bool ada_saw_bob = false;
  f.agent.answer = [&](const AgentRequest& r) {
    std::unique_lock lock(mu);
    most_in_flight_per_user = std::max(most_in_flight_per_user, ++in_flight[r.user.id]);
    if (r.user.id == 2) {
      bob_started = true;
      cv.notify_all();
    } else if (r.body == "ada 0") {
      // Ada's first call holds on until Bob's starts: Bob must not wait behind Ada.
      ada_saw_bob = cv.wait_for(lock, 5s, [&] { return bob_started; });
    }
    --in_flight[r.user.id];
    return AgentResult{AgentResult::Kind::kReply, "ok " + r.body, ""};
  };

  for (int i = 0; i < 4; ++i) f.receive(kAda, "ada " + std::to_string(i));
  f.receive(kBob, "bob 0");
  REQUIRE(eventually([&] { return f.agent.calls().size() == 5; }));
  CHECK(ada_saw_bob);
  CHECK(most_in_flight_per_user == 1);
  std::vector<std::string> ada_order;
  for (const auto& call : f.agent.calls()) {
    if (call.user.id == 1) ada_order.push_back(call.body);
  }
  CHECK(ada_order == std::vector<std::string>{"ada 0", "ada 1", "ada 2", "ada 3"});
  CHECK(eventually([&] { return f.store.pending_inbound().empty(); }));
}

TEST_CASE("an agent that keeps failing is tried agent.max_attempts times, then the sender gets replies.error") {
  Fixture f;
  f.agent.answer = [](const AgentRequest&) {
    return AgentResult{AgentResult::Kind::kRetryable, "", "HTTP 503"};
  };

  auto answer = f.receive(kAda, "are you there?");
  CHECK(answer.outcome == Outcome::kRouted);
  CHECK(answer.twiml.find("<Message>Sorry, something went wrong.</Message>") != std::string::npos);
  CHECK(f.agent.calls().size() == 3);
  CHECK(f.twilio.sent().empty());
  auto stored = f.store.inbound_by_sid("SM1");
  REQUIRE(stored);
  CHECK(stored->state == InboundState::kFailed);
  CHECK(stored->attempts == 3);
}

TEST_CASE("a reply that misses agent.inline_wait_ms goes out by REST from the router number the user wrote to") {
  Config config = test_config();
  config.agent.inline_wait_ms = 50;
  Fixture f(config);
  std::mutex mu;
  std::condition_variable cv;
  bool webhook_answered = false;
  f.agent.answer = [&](const AgentRequest& r) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return webhook_answered; });  // surely too late to answer inline
    return AgentResult{AgentResult::Kind::kReply, "late: " + r.body, ""};
  };

  auto answer = f.receive(kAda, "take your time");
  CHECK(answer.twiml.find("<Message>") == std::string::npos);
  {
    std::lock_guard lock(mu);
    webhook_answered = true;
  }
  cv.notify_all();
  REQUIRE(eventually([&] { return f.twilio.sent().size() == 1; }));
  auto sent = f.twilio.sent();
  CHECK(sent[0].to == kAda);
  CHECK(sent[0].from == kRouterNumber);
  CHECK(sent[0].body == "late: take your time");
  CHECK(sent[0].status_callback.ends_with("/sms-router/webhook/status"));
}
