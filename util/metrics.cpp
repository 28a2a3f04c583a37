#include "util/metrics.hpp"

#include <algorithm>
#include <cmath>

namespace smsr {

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), buckets_(new std::atomic<std::uint64_t>[upper_bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;
  auto bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  buckets_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.upper_bounds = upper_bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::size_t LabeledCounter::index_of(std::string_view value) const {
  auto it = std::find(values_.begin(), values_.end(), value);
  return it == values_.end() ? values_.size() - 1 : static_cast<std::size_t>(it - values_.begin());
}

void LabeledCounter::inc(std::string_view value) { counters_[index_of(value)].inc(); }

std::uint64_t LabeledCounter::value(std::string_view value) const { return counters_[index_of(value)].value(); }

}  // namespace smsr
