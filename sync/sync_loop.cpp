#include "sync/sync_loop.hpp"

#include <algorithm>

#include "util/backoff.hpp"

namespace smsr {

SyncLoop::SyncLoop(SyncEngine& engine, std::chrono::seconds interval, const Clock& clock,
                   std::function<void(const SyncReport&)> on_round)
    : engine_(engine), interval_(interval), clock_(clock), on_round_(std::move(on_round)) {
  status_.enabled = true;
}

SyncLoop::~SyncLoop() { stop(); }

void SyncLoop::start() {
  thread_.start("sync", [this] { loop(); });
}

void SyncLoop::stop() { thread_.stop(); }

void SyncLoop::request() { thread_.wake(); }

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
    if (!thread_.sleep_for(wait)) return;
  }
}

}  // namespace smsr
