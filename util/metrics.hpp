// Metric primitives: counters and fixed-bucket histograms, updated lock-free on hot paths.
// What the service counts (the registry) and how it is exposed live with their layers.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace smsr {

// Seconds since `start`, as histograms of durations observe them.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A monotonically increasing count.
class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Observations counted into fixed buckets (upper bounds inclusive, as Prometheus's `le`).
class Histogram {
 public:
  // `upper_bounds` ascending; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);

  // Counts `value` in the first bucket whose bound is >= value. NaN is ignored.
  void observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> upper_bounds_;                 // constant after construction
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // upper_bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

// Counters sharing a name, one per value of a fixed label. Every value is rendered from the
// start (as 0), so rate() works before the first event.
class LabeledCounter {
 public:
  template <std::size_t N>
  explicit LabeledCounter(const std::array<std::string_view, N>& values) : values_(values.begin(), values.end()),
                                                                            counters_(new Counter[N]) {}
  // Counts under `value`; an unlisted value counts under the last one ("other").
  void inc(std::string_view value);
  std::uint64_t value(std::string_view value) const;
  const std::vector<std::string_view>& values() const { return values_; }

 private:
  std::size_t index_of(std::string_view value) const;

  const std::vector<std::string_view> values_;  // constant after construction
  std::unique_ptr<Counter[]> counters_;
};

}  // namespace smsr
