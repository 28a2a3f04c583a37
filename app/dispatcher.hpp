// Delivers stored inbound messages to their users' agents: one message at a time per user,
// in arrival order; different users in parallel up to agent.concurrency, so one slow
// user never holds up another. Work lives in the database: after a restart, start() picks
// up every pending message again (at least once; the agent deduplicates by MessageSid).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "app/agent.hpp"
#include "app/reply_slot.hpp"
#include "app/settings.hpp"
#include "core/clock.hpp"

namespace smsr {

class Store;
struct InboundRecord;

struct DispatcherOptions {
  int workers = 32;
  // First retry delay; doubles per attempt, capped, with jitter.
  std::chrono::milliseconds retry_base{500};
  std::chrono::milliseconds retry_cap{60000};
};

class Dispatcher {
 public:
  Dispatcher(Store& store, Agent& agent, const Settings& settings, const Clock& clock,
             DispatcherOptions options);
  ~Dispatcher();

  // Queues every pending message from the store and starts the workers.
  void start();
  // Stops taking new work, lets agent calls in flight finish, joins the workers. Messages
  // not delivered stay pending in the store.
  void stop();

  // Queues a stored message for its user. `slot` (may be null) gets the reply if the
  // webhook is still waiting for it.
  void enqueue(std::int64_t inbound_id, UserId user_id, std::shared_ptr<ReplySlot> slot);

  std::size_t queue_depth() const;

  struct Counters {
    std::atomic<std::uint64_t> calls{0};
    std::atomic<std::uint64_t> failures{0};    // attempts that did not produce an answer
    std::atomic<std::uint64_t> latency_ms_total{0};
  };
  const Counters& counters() const { return counters_; }

 private:
  struct Task {
    std::int64_t inbound_id = 0;
    std::shared_ptr<ReplySlot> slot;
  };
  struct UserQueue {
    std::deque<Task> tasks;
    bool scheduled = false;  // in ready_, in delayed_, or being worked on
  };
  using SteadyTime = std::chrono::steady_clock::time_point;

  void worker_loop();
  // Delivers one message. Returns the time to retry at, or nullopt when it is finished.
  std::optional<SteadyTime> deliver(const Task& task);
  void finish(const InboundRecord& message, const std::shared_ptr<ReplySlot>& slot,
              const std::string& state, const std::optional<std::string>& reply,
              const std::string& error, std::int64_t processing_ms);
  std::chrono::milliseconds backoff(int attempts) const;

  Store& store_;
  Agent& agent_;
  const Settings& settings_;
  const Clock& clock_;
  const DispatcherOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<UserId, UserQueue> users_;  // guarded by mu_
  std::deque<UserId> ready_;                     // guarded by mu_
  std::multimap<SteadyTime, UserId> delayed_;    // guarded by mu_
  std::size_t queued_ = 0;                       // guarded by mu_
  bool stopping_ = false;                        // guarded by mu_
  std::vector<std::thread> workers_;

  Counters counters_;
};

}  // namespace smsr
