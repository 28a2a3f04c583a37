// Sends queued SMS through Twilio's REST API: replies that missed the inline window and
// proactive messages. One message at a time per recipient, in order; recipients in
// parallel. Every attempt is recorded before it is made, so after a crash the queue resumes
// and a possible duplicate is a logged, deliberate choice (Twilio has no idempotency key).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/routing/settings.hpp"
#include "app/twilio/rest_api.hpp"
#include "core/clock.hpp"
#include "core/domain.hpp"
#include "core/keyed_scheduler.hpp"
#include "core/message.hpp"

namespace smsr {

class Store;
class WriteTxn;


struct OutgoingSms {
  std::optional<std::int64_t> inbound_id;
  std::optional<UserId> user_id;
  std::string to;
  std::string from;
  std::string body;
  OutgoingKind kind = OutgoingKind::kReply;
  std::string reply_to_sid;  // the inbound MessageSid, for replies
  std::optional<std::int64_t> processing_ms;
};

// Inside a write: splits `sms` into parts of at most `max_chars` at word boundaries and
// queues each with its usage log. Returns the queued ids, in sending order.
std::vector<std::int64_t> queue_outgoing(WriteTxn& txn, const OutgoingSms& sms, std::size_t max_chars);

struct SenderOptions {
  int workers = 4;
  int max_attempts = 10;
  std::chrono::milliseconds retry_base{500};
  std::chrono::milliseconds retry_cap{60000};
};

class Sender {
 public:
  Sender(Store& store, TwilioApi& api, const Settings& settings, const Clock& clock, SenderOptions options);

  // Schedules every unsent message in the store, then starts the workers.
  void start();
  // See KeyedScheduler::stop.
  bool stop(std::chrono::milliseconds grace) { return scheduler_.stop(grace); }

  // Schedules messages already committed with queue_outgoing.
  void schedule(const std::string& to, const std::vector<std::int64_t>& ids);
  std::size_t queue_depth() const { return scheduler_.depth(); }
  std::chrono::steady_clock::duration oldest_running() const { return scheduler_.oldest_running(clock_.steady()); }

 private:
  struct Task {
    std::int64_t outbound_id = 0;
  };
  std::optional<std::chrono::steady_clock::time_point> send(const std::string& to, Task& task);

  Store& store_;
  TwilioApi& api_;
  const Settings& settings_;
  const Clock& clock_;
  const SenderOptions options_;
  KeyedScheduler<std::string, Task> scheduler_;
};

}  // namespace smsr
