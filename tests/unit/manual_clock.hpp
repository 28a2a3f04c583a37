// A clock that moves only when told to, for tests that depend on time.
#pragma once

#include <atomic>
#include <chrono>

#include "core/clock.hpp"

namespace smsr::test {

class ManualClock : public Clock {
 public:
  explicit ManualClock(EpochMs start) : ms_(start) {}
  EpochMs now_ms() const override { return ms_.load(); }
  std::chrono::steady_clock::time_point steady() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  void set(EpochMs ms) { ms_.store(ms); }
  void advance(std::chrono::milliseconds by) { ms_.fetch_add(by.count()); }

 private:
  std::atomic<EpochMs> ms_;
};

}  // namespace smsr::test
