#include <catch2/catch.hpp>

#include <atomic>
#include <latch>
#include <mutex>
#include <string>
#include <thread>

#include <pthread.h>

#include "core/clock.hpp"
#include "core/keyed_scheduler.hpp"

using smsr::KeyedScheduler;

TEST_CASE("the scheduler reports how long its oldest running task has been running and zero when idle") {
  std::latch started(1);
  std::latch release(1);
  using Scheduler = KeyedScheduler<int, int>;
  Scheduler scheduler(smsr::system_clock(), "test", [&](const int&, int&) -> std::optional<Scheduler::TimePoint> {
    started.count_down();
    release.wait();
    return std::nullopt;
  });
  auto now = [] { return smsr::system_clock().steady(); };
  CHECK(scheduler.oldest_running(now()) == std::chrono::steady_clock::duration::zero());
  scheduler.start(2);
  scheduler.push(1, 0);
  started.wait();
  CHECK(scheduler.oldest_running(now() + std::chrono::hours(1)) >= std::chrono::minutes(59));
  release.count_down();
  CHECK(scheduler.stop(std::chrono::seconds(5)));
  CHECK(scheduler.oldest_running(now()) == std::chrono::steady_clock::duration::zero());
}

TEST_CASE("tasks with the same key run one at a time in push order while other keys run alongside") {
  std::mutex mu;
  std::vector<int> order;
  std::atomic<int> in_flight_key1{0};
  std::atomic<bool> overlap{false};
  using Scheduler = KeyedScheduler<int, int>;
  Scheduler scheduler(smsr::system_clock(), "test", [&](const int& key, int& task) -> std::optional<Scheduler::TimePoint> {
    if (key == 1 && ++in_flight_key1 > 1) overlap = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (key == 1) {
      std::lock_guard lock(mu);
      order.push_back(task);
      --in_flight_key1;
    }
    return std::nullopt;
  });
  scheduler.start(4);
  for (int i = 0; i < 20; ++i) {
    scheduler.push(1, i);
    scheduler.push(2, i);
  }
  for (int i = 0; i < 2000 && scheduler.depth() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(scheduler.stop(std::chrono::seconds(5)));
  CHECK_FALSE(overlap);
  std::vector<int> expected(20);
  for (int i = 0; i < 20; ++i) expected[static_cast<std::size_t>(i)] = i;
  CHECK(order == expected);
}

TEST_CASE("the workers carry the scheduler's name, cut to what Linux keeps") {
  std::mutex mu;
  std::string seen;
  std::latch ran(1);
  using Scheduler = KeyedScheduler<int, int>;
  Scheduler scheduler(smsr::system_clock(), "a-name-longer-than-fifteen",
                      [&](const int&, int&) -> std::optional<Scheduler::TimePoint> {
                        char name[16] = {};
                        pthread_getname_np(pthread_self(), name, sizeof name);
                        std::lock_guard lock(mu);
                        seen = name;
                        ran.count_down();
                        return std::nullopt;
                      });
  scheduler.start(1);
  scheduler.push(1, 0);
  ran.wait();
  CHECK(scheduler.stop(std::chrono::seconds(5)));
  std::lock_guard lock(mu);
  CHECK(seen == "a-name-longer-t");
}

TEST_CASE("a parked task holds its key until resumed and may be resumed before its handler returns") {
  using Scheduler = KeyedScheduler<int, int>;
  std::mutex mu;
  std::vector<int> order;
  Scheduler* self = nullptr;
  std::latch second_parked(1);
  std::atomic<bool> resume_second_later{false};
  Scheduler scheduler(smsr::system_clock(), "test", [&](const int& key, int& task) -> std::optional<Scheduler::TimePoint> {
    {
      std::lock_guard lock(mu);
      order.push_back(task);
    }
    if (task == 1) {
      self->resume(key, std::nullopt);  // the commit came first
    } else if (task == 2) {
      resume_second_later = true;
      second_parked.count_down();
    }
    return Scheduler::kParked;
  });
  self = &scheduler;
  scheduler.start(2);
  scheduler.push(7, 1);
  scheduler.push(7, 2);
  scheduler.push(7, 3);
  second_parked.wait();
  // Task 2 is parked: task 3 must not start, and the parked task counts as queued work.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  {
    std::lock_guard lock(mu);
    CHECK(order == std::vector<int>{1, 2});
  }
  CHECK(scheduler.depth() == 2);
  scheduler.resume(7, std::nullopt);
  auto ran = [&] {
    std::lock_guard lock(mu);
    return order.size();
  };
  for (int i = 0; i < 400 && ran() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(ran() == 3);
  scheduler.resume(7, std::nullopt);  // task 3 parked too (or is about to)
  CHECK(scheduler.stop(std::chrono::seconds(5)));
  std::lock_guard lock(mu);
  CHECK(order == std::vector<int>{1, 2, 3});
  CHECK(scheduler.depth() == 0);
}
