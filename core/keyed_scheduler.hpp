// Runs tasks on a pool of workers with one rule: tasks with the same key run one at a
// time, in the order they were pushed; different keys run in parallel. A task may ask to
// be retried later: it keeps its place at the head of its key's queue (later tasks of
// that key wait behind it) without holding a worker while it waits. A task may also park:
// its last step goes on elsewhere (a write committing), the worker moves on, and the key
// stays busy until resume() says how the task ended.
//
// Used per user for agent calls and per recipient for outgoing SMS.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/thread_name.hpp"

namespace smsr {

template <class Key, class Task>
class KeyedScheduler {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // Runs one task. Returns nullopt when the task is finished, or the time to run it again.
  using Handler = std::function<std::optional<TimePoint>(const Key&, Task&)>;
  // What a handler returns to park its task (see resume).
  static constexpr TimePoint kParked = TimePoint::max();

  // `name` names the worker threads (see named_thread).
  KeyedScheduler(const Clock& clock, std::string name, Handler handler)
      : clock_(clock), name_(std::move(name)), handler_(std::move(handler)) {}
  ~KeyedScheduler() { stop(std::chrono::seconds(0)); }
  KeyedScheduler(const KeyedScheduler&) = delete;
  KeyedScheduler& operator=(const KeyedScheduler&) = delete;

  void start(int workers) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < std::max(1, workers); ++i) {
      ++running_;
      workers_.push_back(named_thread(name_, [this] { worker_loop(); }));
    }
  }

  // Stops taking tasks and waits up to `grace` for tasks in progress, parked ones included.
  // Returns true if all workers ended and no task is parked; false if some are still inside
  // a handler (they are detached and must not outlive the process: the caller exits).
  bool stop(std::chrono::milliseconds grace) {
    std::unique_lock lock(mu_);
    stopping_ = true;
    cv_.notify_all();
    bool all_done = idle_cv_.wait_for(lock, grace, [&] { return running_ == 0 && parked_ == 0; });
    auto workers = std::move(workers_);
    workers_.clear();
    lock.unlock();
    for (auto& t : workers) {
      if (all_done) t.join();
      else t.detach();
    }
    return all_done;
  }

  void push(const Key& key, Task task) {
    {
      std::lock_guard lock(mu_);
      auto& q = queues_[key];
      q.tasks.push_back(std::move(task));
      ++depth_;
      if (q.scheduled) return;
      q.scheduled = true;
      ready_.push_back(key);
    }
    cv_.notify_one();
  }

  // Ends a parked task of `key`: finished (nullopt), or to run again at `retry_at` ahead of
  // the key's later tasks. Any thread may call it, once per park, even before the handler
  // that parks the task has returned (the write it waits for may commit first).
  void resume(const Key& key, std::optional<TimePoint> retry_at) {
    // Notified under the lock: once the last parked task is resumed, stop() may return and
    // the scheduler be destroyed as soon as the lock is released.
    std::lock_guard lock(mu_);
    auto& q = queues_[key];
    if (q.running) {
      q.resumed_early = retry_at;  // the worker applies it when the handler returns
      return;
    }
    --parked_;
    bool more_work = true;
    if (retry_at) {
      delayed_.emplace(*retry_at, key);
    } else {
      more_work = finish_front(key);
    }
    // Waking a worker for nothing costs a context switch per finished task.
    if (more_work) cv_.notify_one();
    idle_cv_.notify_all();  // stop() may be waiting for the last parked task
  }

  // Tasks waiting, running or parked.
  std::size_t depth() const {
    std::lock_guard lock(mu_);
    return depth_;
  }

  // How long the longest-running task has been running (zero when none runs). Tasks are
  // bounded (timeouts), so a large value means a worker is stuck: the watchdog uses it.
  std::chrono::steady_clock::duration oldest_running(TimePoint now) const {
    std::lock_guard lock(mu_);
    std::chrono::steady_clock::duration oldest{0};
    for (const auto& [id, started] : running_since_) oldest = std::max(oldest, now - started);
    return oldest;
  }

 private:
  struct Queue {
    std::deque<Task> tasks;
    bool scheduled = false;  // in ready_, in delayed_, being run or parked
    bool running = false;    // a worker is inside the handler for the head task
    std::optional<std::optional<TimePoint>> resumed_early;  // see resume()
  };

  void worker_loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      auto now = clock_.steady();
      while (!delayed_.empty() && delayed_.begin()->first <= now) {
        ready_.push_back(delayed_.begin()->second);
        delayed_.erase(delayed_.begin());
      }
      if (stopping_) break;
      if (ready_.empty()) {
        if (delayed_.empty()) {
          cv_.wait(lock);
        } else {
          // A copy: while we wait, another worker may erase the entry it comes from.
          TimePoint until = delayed_.begin()->first;
          cv_.wait_until(lock, until);
        }
        continue;
      }
      Key key = ready_.front();
      ready_.pop_front();
      Task task = std::move(queues_[key].tasks.front());  // put back if it is to run again
      queues_[key].running = true;
      running_since_[std::this_thread::get_id()] = clock_.steady();
      lock.unlock();
      std::optional<TimePoint> retry_at = handler_(key, task);
      lock.lock();
      running_since_.erase(std::this_thread::get_id());
      auto& q = queues_[key];
      q.running = false;
      if (retry_at == kParked) {
        if (!q.resumed_early) {
          q.tasks.front() = std::move(task);  // resume() may run it again
          ++parked_;
          continue;
        }
        retry_at = *q.resumed_early;
        q.resumed_early.reset();
      }
      if (retry_at) {
        q.tasks.front() = std::move(task);  // keeps what the handler learned (attempts)
        delayed_.emplace(*retry_at, key);
        cv_.notify_one();  // someone must wake up for it even if no new task comes
        continue;
      }
      finish_front(key);
    }
    --running_;
    idle_cv_.notify_all();
  }

  // Drops the key's finished head task and lets its next one run; returns whether there is
  // one. Caller holds mu_.
  bool finish_front(const Key& key) {
    auto& q = queues_[key];
    q.tasks.pop_front();
    --depth_;
    if (q.tasks.empty()) {
      queues_.erase(key);
      return false;
    }
    ready_.push_back(key);
    return true;
  }

  const Clock& clock_;
  const std::string name_;
  const Handler handler_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::unordered_map<Key, Queue> queues_;  // guarded by mu_
  std::deque<Key> ready_;                  // guarded by mu_
  std::multimap<TimePoint, Key> delayed_;  // guarded by mu_
  std::size_t depth_ = 0;                  // guarded by mu_
  int running_ = 0;                        // guarded by mu_
  int parked_ = 0;                         // guarded by mu_
  bool stopping_ = false;                  // guarded by mu_
  std::vector<std::thread> workers_;       // guarded by mu_
  std::map<std::thread::id, TimePoint> running_since_;  // guarded by mu_
};

}  // namespace smsr
