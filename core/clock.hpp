// Time, injected so tests can control it.
#pragma once

#include <chrono>

#include "core/domain.hpp"

namespace smsr {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual EpochMs now_ms() const = 0;                                 // wall clock
  virtual std::chrono::steady_clock::time_point steady() const = 0;  // for durations, TTLs
};

// The real clocks. A process-wide instance; never destroyed.
const Clock& system_clock();

}  // namespace smsr
