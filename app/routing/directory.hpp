// PhoneDirectory: who owns a number, answered from an in-process LRU cache in front of the
// local store. Negative answers (unknown, ambiguous) are cached too. Entries are dropped as
// soon as a number's owner changes: at once for writes made by this process, and within
// a poll interval for writes made by other processes sharing the database (the CLI).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/domain.hpp"
#include "core/lru_cache.hpp"

namespace smsr {

class Store;

class PhoneDirectory {
 public:
  PhoneDirectory(Store& store, const Clock& clock, std::size_t capacity,
                 std::chrono::seconds ttl);

  // The owner of an E.164 number. Throws StoreError when the database cannot be read
  // (never answers "unknown" for a database failure).
  Resolution resolve(const std::string& e164);

  // Drops the cached answers for these numbers.
  void invalidate(const std::vector<std::string>& numbers);

  // Reads the store's journal of changed numbers and drops their cached answers; call
  // periodically to see changes made by other processes.
  void poll_changes();

  void set_ttl(std::chrono::seconds ttl) { cache_.set_ttl(ttl); }

  struct Stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::size_t entries = 0;
  };
  Stats stats() const;

 private:
  Store& store_;
  const Clock& clock_;
  LruCache<Resolution> cache_;
  // Bumped by every invalidation; a lookup that raced with one does not cache its answer.
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::int64_t> journal_seq_{0};
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
};

}  // namespace smsr
