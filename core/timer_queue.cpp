#include "core/timer_queue.hpp"

#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace smsr {

TimerQueue::TimerQueue(std::string thread_name) {
  thread_ = named_thread(std::move(thread_name), [this] { run(); });
}

TimerQueue::~TimerQueue() { stop(); }

TimerQueue::Id TimerQueue::after(std::chrono::milliseconds delay, std::function<void()> task) {
  const Deadline due = std::chrono::steady_clock::now() + delay;
  Id id = 0;
  bool first = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return 0;
    id = next_id_++;
    tasks_.emplace(std::make_pair(due, id), std::move(task));
    deadlines_.emplace(id, due);
    first = tasks_.begin()->first.second == id;
  }
  if (first) cv_.notify_one();
  return id;
}

bool TimerQueue::cancel(Id id) {
  std::lock_guard lock(mu_);
  auto it = deadlines_.find(id);
  if (it == deadlines_.end()) return false;
  tasks_.erase({it->second, id});
  deadlines_.erase(it);
  return true;
}

void TimerQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TimerQueue::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (tasks_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = tasks_.begin();
    if (first->first.first > std::chrono::steady_clock::now()) {
      cv_.wait_until(lock, first->first.first);
      continue;
    }
    std::function<void()> task = std::move(first->second);
    deadlines_.erase(first->first.second);
    tasks_.erase(first);
    lock.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      LOG_ERROR("timer.task_failed", {"error", e.what()});
    }
    lock.lock();
  }
}

}  // namespace smsr
