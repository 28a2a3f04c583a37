// A thread-safe LRU cache with a time-to-live, split into shards so concurrent lookups of
// different keys rarely contend. Time is passed in by the caller (tests use a fake clock).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace smsr {

template <class V>
class LruCache {
 public:
  using Clock = std::chrono::steady_clock;

  // `capacity` is the total number of entries across shards (each shard holds its share,
  // at least one entry).
  LruCache(std::size_t capacity, Clock::duration ttl, std::size_t shard_count = 16)
      : ttl_(ttl) {
    if (shard_count == 0) shard_count = 1;
    if (capacity < shard_count) shard_count = capacity == 0 ? 1 : capacity;
    shards_.reserve(shard_count);
    for (std::size_t i = 0; i < shard_count; ++i) {
      auto shard = std::make_unique<Shard>();
      shard->capacity = capacity / shard_count + (i < capacity % shard_count ? 1 : 0);
      if (shard->capacity == 0) shard->capacity = 1;
      shards_.push_back(std::move(shard));
    }
  }

  // The value for `key` if present and younger than the TTL; refreshes its recency.
  std::optional<V> get(const std::string& key, Clock::time_point now) {
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) return std::nullopt;
    if (now >= it->second->expires_at) {
      s.order.erase(it->second);
      s.index.erase(it);
      return std::nullopt;
    }
    s.order.splice(s.order.begin(), s.order, it->second);
    return it->second->value;
  }

  void put(const std::string& key, V value, Clock::time_point now) {
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto expires = now + ttl_.load();
    auto it = s.index.find(key);
    if (it != s.index.end()) {
      it->second->value = std::move(value);
      it->second->expires_at = expires;
      s.order.splice(s.order.begin(), s.order, it->second);
      return;
    }
    s.order.push_front(Entry{key, std::move(value), expires});
    s.index.emplace(key, s.order.begin());
    if (s.index.size() > s.capacity) {
      s.index.erase(s.order.back().key);
      s.order.pop_back();
    }
  }

  void erase(const std::string& key) {
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) return;
    s.order.erase(it->second);
    s.index.erase(it);
  }

  void clear() {
    for (auto& s : shards_) {
      std::lock_guard lock(s->mu);
      s->index.clear();
      s->order.clear();
    }
  }

  std::size_t size() const {
    std::size_t n = 0;
    for (const auto& s : shards_) {
      std::lock_guard lock(s->mu);
      n += s->index.size();
    }
    return n;
  }

  // Applies to entries stored from now on.
  void set_ttl(Clock::duration ttl) { ttl_.store(ttl); }

 private:
  struct Entry {
    std::string key;
    V value;
    Clock::time_point expires_at;
  };
  struct Shard {
    mutable std::mutex mu;
    std::size_t capacity = 1;  // constant after construction
    std::list<Entry> order;    // guarded by mu; most recent first
    std::unordered_map<std::string, typename std::list<Entry>::iterator> index;  // guarded by mu
  };

  Shard& shard_for(const std::string& key) {
    return *shards_[std::hash<std::string>{}(key) % shards_.size()];
  }

  std::atomic<Clock::duration> ttl_;
  std::vector<std::unique_ptr<Shard>> shards_;  // constant after construction
};

}  // namespace smsr
