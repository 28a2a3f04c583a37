#include "sync/sync_loop.hpp"

#include <algorithm>

#include "core/thread_name.hpp"
#include "util/backoff.hpp"

namespace smsr {

SyncLoop::SyncLoop(SyncEngine& engine, std::chrono::seconds interval, const Clock& clock,
                   std::function<void(const SyncReport&)> on_round)
    : engine_(engine), interval_(interval), clock_(clock), on_round_(std::move(on_round)) {
  status_.enabled = true;
}

SyncLoop::~SyncLoop() { stop(); }

void SyncLoop::start() {
  thread_ = named_thread("sync", [this] { loop(); });
}

void SyncLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SyncLoop::request() {
  {
    std::lock_guard lock(mu_);
    requested_ = true;
  }
  cv_.notify_all();
}

SyncStatus SyncLoop::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

std::chrono::milliseconds SyncLoop::delay_after_failure(int consecutive) const {
  // 1 s, 2 s, 4 s ... capped at the interval (at least 5 s), with jitter so that many
  // edges do not hammer a recovering server in step.
  auto cap = std::max<std::chrono::milliseconds>(interval_, std::chrono::seconds(5));
  return backoff_delay(consecutive, std::chrono::seconds(1), cap);
}

void SyncLoop::loop() {
  for (;;) {
    SyncReport report = engine_.run_once();
    std::chrono::milliseconds wait = interval_;
    {
      std::lock_guard lock(mu_);
      ++status_.runs;
      status_.last_attempt_ms = clock_.now_ms();
      if (report.ok) {
        status_.consecutive_failures = 0;
        status_.last_success_ms = status_.last_attempt_ms;
        status_.last_error.clear();
      } else {
        ++status_.failures;
        ++status_.consecutive_failures;
        status_.last_error = report.error;
        wait = delay_after_failure(status_.consecutive_failures);
      }
    }
    if (on_round_) on_round_(report);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return stopping_ || requested_; });
    if (stopping_) return;
    requested_ = false;
  }
}

}  // namespace smsr
