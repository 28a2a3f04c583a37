// Runs SyncEngine rounds on their own thread every sync.interval_s, at once on request
// (POST /sms-router/admin/sync), and with backoff and jitter after failures. Routing never
// waits for it. status() feeds /health ("degraded" while sync fails) and the metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "core/background_thread.hpp"
#include "core/clock.hpp"
#include "sync/sync_engine.hpp"

namespace smsr {

struct SyncStatus {
  bool enabled = false;
  std::uint64_t runs = 0;
  std::uint64_t failures = 0;
  int consecutive_failures = 0;
  EpochMs last_success_ms = 0;  // 0 = never
  EpochMs last_attempt_ms = 0;
  std::string last_error;       // of the latest failed round, cleared on success
};

class SyncLoop {
 public:
  SyncLoop(SyncEngine& engine, std::chrono::seconds interval, const Clock& clock,
           std::function<void(const SyncReport&)> on_round);
  ~SyncLoop();

  void start();
  void stop();
  void request();  // run a round now (or right after the one in progress)
  SyncStatus status() const;

 private:
  void loop();
  std::chrono::milliseconds delay_after_failure(int consecutive) const;

  SyncEngine& engine_;
  const std::chrono::seconds interval_;
  const Clock& clock_;
  std::function<void(const SyncReport&)> on_round_;

  mutable std::mutex mu_;
  SyncStatus status_;  // guarded by mu_
  BackgroundThread thread_;
};

}  // namespace smsr
