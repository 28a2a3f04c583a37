// One thread that runs short tasks at their deadlines, for waits that must not hold a thread
// each: a webhook's wait for its inline reply ends here, whichever comes first.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace smsr {

class TimerQueue {
 public:
  using Id = std::uint64_t;

  explicit TimerQueue(std::string thread_name = "timers");
  // Stops; tasks not yet due never run.
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Runs `task` on the queue's thread once `delay` has passed (at once for zero). Tasks must
  // be quick: the next one waits for them. After stop() the task is dropped.
  Id after(std::chrono::milliseconds delay, std::function<void()> task);
  // Runs `task` on the queue's thread as soon as it is free.
  Id post(std::function<void()> task) { return after(std::chrono::milliseconds(0), std::move(task)); }
  // True if the task had not started; it then never runs.
  bool cancel(Id id);
  // Joins the thread; tasks not yet due are dropped. Idempotent.
  void stop();

 private:
  using Deadline = std::chrono::steady_clock::time_point;
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<Deadline, Id>, std::function<void()>> tasks_;  // guarded by mu_
  std::map<Id, Deadline> deadlines_;                                 // guarded by mu_
  Id next_id_ = 1;                                                   // guarded by mu_
  bool stopping_ = false;                                            // guarded by mu_
  std::thread thread_;
};

}  // namespace smsr
