#include "app/routing/directory.hpp"

#include "storage/store.hpp"

namespace smsr {

PhoneDirectory::PhoneDirectory(Store& store, const Clock& clock, std::size_t capacity,
                               std::chrono::seconds ttl)
    : store_(store), clock_(clock), cache_(capacity, ttl) {
  journal_seq_ = store_.last_phone_change_seq();
}

Resolution PhoneDirectory::resolve(const std::string& e164) {
  auto now = clock_.steady();
  if (auto cached = cache_.get(e164, now)) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    return *cached;
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  auto generation = generation_.load();
  Resolution r = store_.resolve(e164);
  // If an invalidation ran while we read, our answer may predate it: do not cache it.
  if (generation == generation_.load()) cache_.put(e164, r, now);
  return r;
}

void PhoneDirectory::invalidate(const std::vector<std::string>& numbers) {
  generation_.fetch_add(1);
  for (const auto& n : numbers) cache_.erase(n);
}

void PhoneDirectory::poll_changes() {
  auto changes = store_.phone_changes_after(journal_seq_.load());
  if (changes.empty()) return;
  std::vector<std::string> numbers;
  numbers.reserve(changes.size());
  for (auto& [seq, number] : changes) numbers.push_back(std::move(number));
  invalidate(numbers);
  journal_seq_ = changes.back().first;
}

PhoneDirectory::Stats PhoneDirectory::stats() const {
  return {hits_.load(), misses_.load(), cache_.size()};
}

}  // namespace smsr
