// A named thread running one loop, with what such loops share: a sleep that ends early when
// the thread is asked to stop, or woken to do its work now. The pruner and the sync loop
// are built on it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/thread_name.hpp"

namespace smsr {

class BackgroundThread {
 public:
  BackgroundThread() = default;
  ~BackgroundThread() { stop(); }
  BackgroundThread(const BackgroundThread&) = delete;
  BackgroundThread& operator=(const BackgroundThread&) = delete;

  // Runs `loop` on a thread named `name`; the loop returns once sleep_for() says to stop.
  void start(std::string name, std::function<void()> loop) { thread_ = named_thread(std::move(name), std::move(loop)); }

  // Ends the sleep under way (and every later one) and joins the thread. Idempotent.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Ends the sleep under way, or the next one if none is: the loop does its work now, or
  // right after the round in progress.
  void wake() {
    {
      std::lock_guard lock(mu_);
      woken_ = true;
    }
    cv_.notify_all();
  }

  // Sleeps up to `duration`, less if woken; false once stop() has been called.
  bool sleep_for(std::chrono::milliseconds duration) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, duration, [&] { return stopping_ || woken_; });
    woken_ = false;
    return !stopping_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool woken_ = false;     // guarded by mu_
  std::thread thread_;
};

}  // namespace smsr
