// Shutting down and reloading at any moment: SIGTERM right after start, with webhooks
// waiting for their inline reply, with idle connections open; SIGHUP under traffic.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <future>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/harness.hpp"
#include "tests/integration/raw_http.hpp"

using namespace smsr;
using namespace smsr::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Waits up to `timeout` for `pid` to exit; its exit status, or -1 if still running (then
// it is killed).
int exit_status_within(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

// Two threads spinning, so that the service's threads start late (as on a loaded box).
class CpuLoad {
 public:
  CpuLoad() {
    for (int i = 0; i < 2; ++i) {
      threads_.emplace_back([this] {
        while (!stop_) {
        }
      });
    }
  }
  ~CpuLoad() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace

TEST_CASE("SIGTERM right after the service is ready exits 0 within 10 s, every time") {
  TempDir dir;
  CpuLoad load;
  for (int attempt = 0; attempt < 20; ++attempt) {
    INFO("attempt " << attempt);
    Service service(dir, base_config(dir));
    service.start();
    const pid_t pid = service.pid();
    ::kill(pid, SIGTERM);
    CHECK(exit_status_within(pid, 10s) == 0);
    service.forget();
  }
}

TEST_CASE("SIGTERM answers webhooks waiting for their inline reply at once, and the reply goes out by REST") {
  TempDir dir;
  FakeAgent agent;
  FakeTwilio twilio;
  agent.set_behaviour([](const FakeAgent::Request&) {
    return FakeAgent::Response{200, R"({"reply": "slow answer"})", 1500ms};
  });
  json config = base_config(dir);
  config["agent"]["url"] = agent.url();
  config["agent"]["inline_wait_ms"] = 8000;
  config["agent"]["timeout_ms"] = 8000;
  config["twilio"]["api_base_url"] = twilio.url();
  Service service(dir, config);
  REQUIRE(service.cli({"users", "add", "--id", "1", "--phone", kAda}).status == 0);
  service.start();

  auto webhook = std::async(std::launch::async, [&] { return post_webhook(service.port(), sms_fields(Sms(kAda, "hi"))); });
  REQUIRE(eventually([&] { return agent.count() == 1; }));
  const auto signalled = std::chrono::steady_clock::now();
  ::kill(service.pid(), SIGTERM);
  REQUIRE(webhook.wait_for(1s) == std::future_status::ready);  // not after the agent's 1.5 s
  auto answer = webhook.get();
  CHECK(answer.status == 200);
  CHECK_FALSE(twiml_message(answer.body));  // <Response/>: the reply does not come inline
  CHECK(std::chrono::steady_clock::now() - signalled < 1s);
  CHECK(exit_status_within(service.pid(), 10s) == 0);
  service.forget();
  // The agent's answer came while the service drained, and went out through the REST API.
  const auto sent = twilio.requests();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].field("Body") == "slow answer");
  CHECK(sent[0].field("To") == kAda);
}

TEST_CASE("SIGTERM closes idle keep-alive connections and exits 0", "[plain-http]") {
  TempDir dir;
  Service service(dir, base_config(dir));
  service.start();
  std::vector<RawConnection> idle;
  for (int i = 0; i < 50; ++i) idle.emplace_back(service.port());
  RawConnection used(service.port());
  REQUIRE(used.send("GET /sms-router/health HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(used.read_answer(5s));
  ::kill(service.pid(), SIGTERM);
  CHECK(used.closed_within(5s));
  for (auto& c : idle) CHECK(c.closed_within(5s));
  CHECK(exit_status_within(service.pid(), 10s) == 0);
  service.forget();
}

TEST_CASE("SIGHUP under traffic drops no request") {
  TempDir dir;
  json config = base_config(dir);
  config["limits"]["per_sender_per_minute"] = 0;
  Service service(dir, config);
  REQUIRE(service.cli({"users", "add", "--id", "1", "--phone", kAda}).status == 0);
  service.start();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      while (!stop) {
        auto answer = post_webhook(service.port(), sms_fields(Sms(kAda, "during reload")));
        (answer.status == 200 ? ok : failed)++;
      }
    });
  }
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(200ms);
    config["replies"]["error"] = "reload " + std::to_string(i);
    write_file(service.config_path(), config.dump());
    ::kill(service.pid(), SIGHUP);
  }
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& t : clients) t.join();
  CHECK(eventually([&] {
    const std::string log = service.log();
    std::size_t reloads = 0;
    for (auto pos = log.find("event=config.reloaded"); pos != std::string::npos; pos = log.find("event=config.reloaded", pos + 1)) {
      ++reloads;
    }
    return reloads >= 1;
  }));
  CHECK(ok > 20);
  CHECK(failed == 0);
  CHECK(service.stop() == 0);
}
