// Delivers stored inbound messages to their users' agents: one message at a time per user,
// in arrival order; different users in parallel up to agent.concurrency, so one slow
// user never holds up another. Work lives in the database: after a restart, start() picks
// up every pending message again (at least once; the agent deduplicates by MessageSid).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "app/agent/agent.hpp"
#include "app/routing/reply_slot.hpp"
#include "app/routing/settings.hpp"
#include "core/clock.hpp"
#include "core/keyed_scheduler.hpp"
#include "storage/store.hpp"

namespace smsr {

class Sender;

struct DispatcherOptions {
  int workers = 32;
  std::chrono::milliseconds retry_base{500};
  std::chrono::milliseconds retry_cap{60000};
};

class Dispatcher {
 public:
  Dispatcher(Store& store, Agent& agent, Sender& sender, const Settings& settings, const Clock& clock,
             DispatcherOptions options);
  // Waits (briefly) for the commits of finished messages: their callbacks use this object.
  ~Dispatcher() { scheduler_.stop(std::chrono::seconds(5)); }

  // Queues every pending message from the store and starts the workers.
  void start();
  // See KeyedScheduler::stop. Messages not delivered stay pending in the store.
  bool stop(std::chrono::milliseconds grace) { return scheduler_.stop(grace); }

  // Queues a stored message for its user. `slot` (may be null) gets the reply if the
  // webhook is still waiting for it.
  void enqueue(std::int64_t inbound_id, UserId user_id, std::shared_ptr<ReplySlot> slot);
  // The same for a message just admitted by a write whose batch may not have committed yet
  // (InboundService; called on the store's notifier thread): the first attempt takes
  // `message` as given instead of reading it back. `message.user_id` must be set;
  // `request_id` is the webhook's, for the log lines of the delivery.
  void enqueue_admitted(InboundRecord message, std::shared_ptr<ReplySlot> slot, std::string request_id);

  std::size_t queue_depth() const { return scheduler_.depth(); }
  // How long the longest agent delivery in progress has been running.
  std::chrono::steady_clock::duration oldest_running() const { return scheduler_.oldest_running(clock_.steady()); }

 private:
  struct Task {
    std::int64_t inbound_id = 0;
    std::shared_ptr<ReplySlot> slot;
    std::string request_id;  // of the webhook that stored it; empty after a restart
    std::optional<InboundRecord> admitted;  // see enqueue_admitted; first attempt only
  };
  using TimePoint = std::chrono::steady_clock::time_point;
  using Scheduler = KeyedScheduler<UserId, Task>;

  // Delivers one message. Returns the time to retry at, nullopt when there is nothing to
  // do, or Scheduler::kParked once finish() has queued the message's last write.
  std::optional<TimePoint> deliver(Task& task);
  std::optional<TimePoint> deliver_or_throw(Task& task);
  // Records how the message ended (state, reply, usage log or outgoing SMS) without waiting
  // for the commit. Once committed, on the store's notifier thread: the inline reply goes
  // to the waiting webhook, outgoing parts to the sender, and the user's next message may
  // start (Scheduler::resume); if the commit fails, the message is tried again later.
  void finish(const InboundRecord& message, const std::shared_ptr<ReplySlot>& slot, InboundState state,
              const std::optional<std::string>& reply, const std::string& error, std::int64_t processing_ms);

  Store& store_;
  Agent& agent_;
  Sender& sender_;
  const Settings& settings_;
  const Clock& clock_;
  const DispatcherOptions options_;
  Scheduler scheduler_;
};

}  // namespace smsr
