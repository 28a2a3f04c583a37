// The timer thread: tasks run at their deadlines in order, cancelled ones never, and stop()
// drops what is not due.
#include <atomic>
#include <mutex>
#include <vector>

#include <catch2/catch.hpp>

#include "core/timer_queue.hpp"
#include "tests/unit/eventually.hpp"

using namespace smsr;
using smsr::test::eventually;
using namespace std::chrono_literals;

TEST_CASE("timer tasks run in deadline order, not in the order they were added") {
  TimerQueue timers;
  std::mutex mu;
  std::vector<int> order;
  auto record = [&](int n) {
    return [&, n] {
      std::lock_guard lock(mu);
      order.push_back(n);
    };
  };
  timers.after(60ms, record(3));
  timers.after(20ms, record(2));
  timers.post(record(1));
  REQUIRE(eventually([&] {
    std::lock_guard lock(mu);
    return order.size() == 3;
  }));
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("a cancelled timer task never runs, and stop() drops the ones not yet due") {
  std::atomic<int> ran{0};
  {
    TimerQueue timers;
    auto id = timers.after(30ms, [&] { ran += 100; });
    CHECK(timers.cancel(id));
    CHECK_FALSE(timers.cancel(id));
    timers.after(10ms, [&] { ran += 1; });
    REQUIRE(eventually([&] { return ran.load() == 1; }));
    timers.after(std::chrono::hours(1), [&] { ran += 1000; });
    timers.stop();
    CHECK(timers.after(0ms, [&] { ran += 10000; }) == 0);  // refused once stopped
  }
  CHECK(ran.load() == 1);
}
