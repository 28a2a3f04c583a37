// Waiting in tests: poll a condition with a deadline, never a bare loop that would hang the
// suite if the condition never came.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace smsr::test {

// Polls `condition` until it holds or `limit` passes; whether it held.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace smsr::test
