#include "core/lru_cache.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace smsr {
namespace {

using Cache = LruCache<std::string>;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A fixed origin: the cache never reads a clock itself, so tests pass explicit instants.
const Cache::Clock::time_point kT0 = Cache::Clock::time_point{} + std::chrono::hours(1);

std::optional<std::string> some(const char* text) { return std::string(text); }

TEST_CASE("A stored key is found and an absent key is a miss", "[lru_cache]") {
  Cache cache(10, seconds(60), 1);
  cache.put("+15145551234", "user 1", kT0);

  CHECK(cache.get("+15145551234", kT0) == some("user 1"));
  CHECK(cache.get("+15145559999", kT0) == std::nullopt);
  CHECK(cache.size() == 1);
}

TEST_CASE("Putting an existing key replaces its value without adding an entry", "[lru_cache]") {
  Cache cache(10, seconds(60), 1);
  cache.put("k", "old", kT0);
  cache.put("k", "new", kT0);

  CHECK(cache.get("k", kT0) == some("new"));
  CHECK(cache.size() == 1);
}

TEST_CASE("An entry is served until its TTL has passed and is dropped from then on",
          "[lru_cache]") {
  Cache cache(10, seconds(10), 1);
  cache.put("k", "v", kT0);

  CHECK(cache.get("k", kT0 + seconds(10) - milliseconds(1)) == some("v"));
  CHECK(cache.get("k", kT0 + seconds(10)) == std::nullopt);
  // The expired entry was removed, not merely hidden.
  CHECK(cache.size() == 0);
  CHECK(cache.get("k", kT0) == std::nullopt);
}

TEST_CASE("A get refreshes recency but does not extend the TTL", "[lru_cache]") {
  Cache cache(10, seconds(10), 1);
  cache.put("k", "v", kT0);
  CHECK(cache.get("k", kT0 + seconds(9)) == some("v"));
  CHECK(cache.get("k", kT0 + seconds(11)) == std::nullopt);
}

TEST_CASE("Putting a key again restarts its TTL from the new put", "[lru_cache]") {
  Cache cache(10, seconds(10), 1);
  cache.put("k", "v1", kT0);
  cache.put("k", "v2", kT0 + seconds(8));
  CHECK(cache.get("k", kT0 + seconds(15)) == some("v2"));
  CHECK(cache.get("k", kT0 + seconds(18)) == std::nullopt);
}

TEST_CASE("At capacity the least recently stored entry is evicted first", "[lru_cache]") {
  Cache cache(3, seconds(60), 1);
  cache.put("a", "1", kT0);
  cache.put("b", "2", kT0);
  cache.put("c", "3", kT0);
  cache.put("d", "4", kT0);

  CHECK(cache.size() == 3);
  CHECK(cache.get("a", kT0) == std::nullopt);
  CHECK(cache.get("b", kT0) == some("2"));
  CHECK(cache.get("c", kT0) == some("3"));
  CHECK(cache.get("d", kT0) == some("4"));

  // Order of use is now b, c, d (d most recent): the next put evicts b, then c.
  cache.put("e", "5", kT0);
  CHECK(cache.get("b", kT0) == std::nullopt);
  cache.put("f", "6", kT0);
  CHECK(cache.get("c", kT0) == std::nullopt);
  CHECK(cache.get("d", kT0) == some("4"));
  CHECK(cache.get("e", kT0) == some("5"));
  CHECK(cache.get("f", kT0) == some("6"));
}

TEST_CASE("A get makes an entry the most recent so another entry is evicted in its place",
          "[lru_cache]") {
  Cache cache(2, seconds(60), 1);
  cache.put("a", "1", kT0);
  cache.put("b", "2", kT0);
  REQUIRE(cache.get("a", kT0) == some("1"));
  cache.put("c", "3", kT0);

  CHECK(cache.get("b", kT0) == std::nullopt);
  CHECK(cache.get("a", kT0) == some("1"));
  CHECK(cache.get("c", kT0) == some("3"));
}

TEST_CASE("Re-putting an entry makes it the most recent", "[lru_cache]") {
  Cache cache(2, seconds(60), 1);
  cache.put("a", "1", kT0);
  cache.put("b", "2", kT0);
  cache.put("a", "1'", kT0);
  cache.put("c", "3", kT0);

  CHECK(cache.get("b", kT0) == std::nullopt);
  CHECK(cache.get("a", kT0) == some("1'"));
  CHECK(cache.get("c", kT0) == some("3"));
}

TEST_CASE("Erase removes one entry and leaves the others", "[lru_cache]") {
  Cache cache(10, seconds(60));
  cache.put("a", "1", kT0);
  cache.put("b", "2", kT0);
  cache.erase("a");
  cache.erase("never stored");

  CHECK(cache.get("a", kT0) == std::nullopt);
  CHECK(cache.get("b", kT0) == some("2"));
  CHECK(cache.size() == 1);
}

TEST_CASE("An erased key frees its slot so no other entry is evicted", "[lru_cache]") {
  Cache cache(2, seconds(60), 1);
  cache.put("a", "1", kT0);
  cache.put("b", "2", kT0);
  cache.erase("b");
  cache.put("c", "3", kT0);

  CHECK(cache.get("a", kT0) == some("1"));
  CHECK(cache.get("c", kT0) == some("3"));
}

TEST_CASE("Clear empties every shard", "[lru_cache]") {
  Cache cache(1000, seconds(60), 16);
  for (int i = 0; i < 50; ++i) cache.put("key" + std::to_string(i), "v", kT0);
  REQUIRE(cache.size() == 50);
  cache.clear();

  CHECK(cache.size() == 0);
  for (int i = 0; i < 50; ++i) CHECK(cache.get("key" + std::to_string(i), kT0) == std::nullopt);
}

TEST_CASE("Size counts the entries of all shards", "[lru_cache]") {
  // 1000 entries over 16 shards is at least 62 per shard: 40 keys can never overflow one.
  Cache cache(1000, seconds(60), 16);
  for (int i = 0; i < 40; ++i) cache.put("+1514555" + std::to_string(1000 + i), "v", kT0);
  CHECK(cache.size() == 40);
  for (int i = 0; i < 40; ++i) {
    CHECK(cache.get("+1514555" + std::to_string(1000 + i), kT0) == some("v"));
  }
  cache.erase("+15145551000");
  CHECK(cache.size() == 39);
}

TEST_CASE("The total size never exceeds the capacity, however keys fall into shards",
          "[lru_cache]") {
  for (std::size_t shards : {1u, 3u, 16u}) {
    for (std::size_t capacity : {1u, 5u, 17u, 100u}) {
      CAPTURE(shards, capacity);
      Cache cache(capacity, seconds(60), shards);
      for (int i = 0; i < 500; ++i) {
        cache.put("key" + std::to_string(i), "v", kT0);
        REQUIRE(cache.size() <= capacity);
      }
      // Each shard keeps its newest entry, so the most recent key is always there.
      CHECK(cache.get("key499", kT0) == some("v"));
    }
  }
}

TEST_CASE("set_ttl applies to entries stored afterwards, not to those already stored",
          "[lru_cache]") {
  Cache cache(10, seconds(10), 1);
  cache.put("before", "1", kT0);
  cache.set_ttl(seconds(2));
  cache.put("after", "2", kT0);

  CHECK(cache.get("before", kT0 + seconds(3)) == some("1"));
  CHECK(cache.get("after", kT0 + seconds(3)) == std::nullopt);
  CHECK(cache.get("before", kT0 + seconds(10)) == std::nullopt);

  cache.set_ttl(seconds(30));
  cache.put("later", "3", kT0);
  CHECK(cache.get("later", kT0 + seconds(29)) == some("3"));
}

TEST_CASE("Concurrent puts, gets and erases on overlapping keys stay within capacity and "
          "never return another key's value",
          "[lru_cache]") {
  constexpr std::size_t kCapacity = 64;
  constexpr int kKeys = 200;
  constexpr int kThreads = 6;
  constexpr int kIterations = 20000;
  Cache cache(kCapacity, seconds(60), 8);
  std::atomic<int> wrong_values{0};
  std::atomic<bool> over_capacity{false};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      unsigned state = 2654435761u * static_cast<unsigned>(t + 1);
      for (int i = 0; i < kIterations; ++i) {
        state = state * 1664525u + 1013904223u;  // a small deterministic LCG per thread
        const std::string key = "k" + std::to_string((state >> 8) % kKeys);
        const auto now = kT0 + milliseconds(i);
        switch ((state >> 24) % 4) {
          case 0:
          case 1:
            cache.put(key, "value of " + key, now);
            break;
          case 2:
            if (auto v = cache.get(key, now); v && *v != "value of " + key) ++wrong_values;
            break;
          default:
            cache.erase(key);
            break;
        }
        if (i % 512 == 0 && cache.size() > kCapacity) over_capacity = true;
      }
    });
  }
  for (auto& th : threads) th.join();

  CHECK(wrong_values.load() == 0);
  CHECK_FALSE(over_capacity.load());
  CHECK(cache.size() <= kCapacity);
  // Still usable afterwards.
  cache.put("final", "x", kT0);
  CHECK(cache.get("final", kT0) == some("x"));
}

}  // namespace
}  // namespace smsr
