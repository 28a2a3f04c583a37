// The times of each sender's recent routed messages, for the per-sender rate limit.
// Kept in memory by the writer thread: answering this from an index on the message table
// cost a random index page in the WAL for every webhook. The store fills it from the table
// when it opens, so limits hold across restarts, and takes back what a rolled-back write
// added. Only the writer thread touches it; it is not thread-safe.
#pragma once

#include <deque>
#include <string>
#include <unordered_map>

#include "core/clock.hpp"

namespace smsr {

class SenderWindow {
 public:
  // How far back counts are exact; older times may be forgotten.
  static constexpr EpochMs kSpanMs = 2 * 60 * 1000;

  void add(const std::string& sender, EpochMs at) {
    times_[sender].push_back(at);
    if (at > newest_) newest_ = at;
    if (++adds_since_sweep_ >= kSweepEvery) sweep();
  }

  // Takes back one add(sender, at) (its write was rolled back).
  void remove(const std::string& sender, EpochMs at) {
    auto it = times_.find(sender);
    if (it == times_.end()) return;
    auto& times = it->second;
    for (auto t = times.rbegin(); t != times.rend(); ++t) {
      if (*t == at) {
        times.erase(std::next(t).base());
        break;
      }
    }
    if (times.empty()) times_.erase(it);
  }

  // Times of `sender` at or after `since` (within kSpanMs of the newest), counted up to `limit`.
  int count_since(const std::string& sender, EpochMs since, int limit) const {
    auto it = times_.find(sender);
    if (it == times_.end()) return 0;
    int n = 0;
    for (auto t = it->second.rbegin(); t != it->second.rend() && n < limit; ++t) {
      if (*t >= since) ++n;
    }
    return n;
  }

  std::size_t senders() const { return times_.size(); }

 private:
  static constexpr int kSweepEvery = 4096;

  // Forgets times older than the span, and senders with none left.
  void sweep() {
    adds_since_sweep_ = 0;
    const EpochMs cutoff = newest_ - kSpanMs;
    for (auto it = times_.begin(); it != times_.end();) {
      auto& times = it->second;
      while (!times.empty() && times.front() < cutoff) times.pop_front();
      it = times.empty() ? times_.erase(it) : std::next(it);
    }
  }

  std::unordered_map<std::string, std::deque<EpochMs>> times_;
  EpochMs newest_ = 0;
  int adds_since_sweep_ = 0;
};

}  // namespace smsr
