// Retry delays shared by every loop that retries an outside system.
#pragma once

#include <chrono>

namespace smsr {

// Exponential backoff with "equal jitter": base * 2^(attempts-1), capped at `cap`, then half
// of it fixed and half random, so retries of many messages spread out but never come back
// sooner than half the nominal delay. Thread-safe.
std::chrono::milliseconds backoff_delay(int attempts, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap);

}  // namespace smsr
