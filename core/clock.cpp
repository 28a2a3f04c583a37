#include <chrono>

#include "core/clock.hpp"
#include "core/domain.hpp"

namespace smsr {

namespace {
class SystemClock final : public Clock {
 public:
  EpochMs now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::chrono::steady_clock::time_point steady() const override {
    return std::chrono::steady_clock::now();
  }
};
}  // namespace

const Clock& system_clock() {
  static const SystemClock* clock = new SystemClock();
  return *clock;
}

}  // namespace smsr
