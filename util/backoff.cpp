#include "util/backoff.hpp"

#include <algorithm>
#include <random>

namespace smsr {

std::chrono::milliseconds backoff_delay(int attempts, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto nominal = base * (1LL << std::clamp(attempts - 1, 0, 20));
  if (nominal > cap) nominal = cap;
  long long half = nominal.count() / 2;
  std::uniform_int_distribution<long long> jitter(0, std::max<long long>(half, 1));
  return std::chrono::milliseconds(half + jitter(rng));
}

}  // namespace smsr
