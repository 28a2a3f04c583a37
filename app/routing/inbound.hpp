// What happens to an inbound SMS once the HTTP layer has checked its signature: dedup by
// MessageSid, who sent it, whether it may reach an agent, the durable record, and the
// TwiML answer. SPEC "What happens, by sender".
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "app/routing/reply_slot.hpp"
#include "app/routing/settings.hpp"
#include "core/clock.hpp"
#include "core/message.hpp"
#include "core/phone.hpp"
#include "core/timer_queue.hpp"
#include "storage/store.hpp"

namespace smsr {

class Store;
class PhoneDirectory;
class Dispatcher;

struct InboundSms {
  std::string message_sid;
  std::string account_sid;
  std::string from;
  std::string to;
  std::string body;
  std::string opt_out_type;  // STOP | START | HELP | "" (Advanced Opt-Out)
  struct Media {
    std::string url;
    std::string content_type;
  };
  std::vector<Media> media;
};

// The opt-out keyword class of a whole message body (trimmed, any case), or of
// OptOutType when present.
enum class Keyword { kNone, kOptOut, kOptIn, kHelp };
Keyword classify_keyword(const std::string& body, const std::string& opt_out_type);

// The reply for an unregistered sender: the replies.unknown_keywords entry matching the
// trimmed, upper-cased body, else replies.unknown_sender; "{phone}" becomes the URL-encoded
// E.164 number.
std::string unknown_sender_reply(const RepliesConfig& replies, const std::string& body,
                                 const std::string& e164);

class InboundService {
 public:
  InboundService(Store& store, PhoneDirectory& directory, Dispatcher& dispatcher,
                 const PhoneNormalizer& normalizer, const Settings& settings, const Clock& clock,
                 TimerQueue& timers);

  struct Answer {
    std::string twiml;
    Outcome outcome = Outcome::kUnknown;  // for a duplicate: the first delivery's
    bool duplicate = false;
    std::exception_ptr failure;  // the message could not be stored (a StoreError): answer 503
  };
  using Done = std::function<void(Answer)>;

  // Handles one verified webhook without holding the calling thread: `done` runs once the
  // message is on disk and its answer is known (its inline reply came, or
  // agent.inline_wait_ms passed), on whichever thread got there last. Throws StoreError
  // when the store is stopping (then `done` never runs).
  void receive_async(const InboundSms& sms, Done done);
  // The same, waiting for the answer; rethrows its failure.
  Answer receive(const InboundSms& sms);

  // Shutting down: every webhook still waiting for its inline reply answers now (the reply
  // goes out through the REST API), and later ones do not wait.
  void end_inline_waits();

 private:
  struct Admission;
  struct Pending;
  // Queues the write that decides and records the message and returns at once (see
  // Store::write_then): once decided, a routed message goes to the dispatcher while its
  // batch commits; for anything else the webhook's reply slot is released once committed.
  void admit(const std::shared_ptr<Pending>& pending);
  // Sets the pending message's sender (normalised when it is a number) and its owner.
  void identify_sender(Pending& pending);
  // On the writer thread: dedup, opt-out, limits, caps, spam; records the message.
  Admission decide_and_record(WriteTxn& txn, const Pending& pending);
  // One of the two things a webhook waits for happened; the second one builds the answer.
  void step_done(const std::shared_ptr<Pending>& pending);
  // A repeated MessageSid gets the first copy's stored answer, polled until `deadline`.
  void answer_duplicate(const std::shared_ptr<Pending>& pending, std::chrono::steady_clock::time_point deadline);
  void finish(const std::shared_ptr<Pending>& pending, std::string twiml);

  Store& store_;
  PhoneDirectory& directory_;
  Dispatcher& dispatcher_;
  const PhoneNormalizer& normalizer_;
  const Settings& settings_;
  const Clock& clock_;
  TimerQueue& timers_;
  std::atomic<bool> draining_{false};
  std::mutex waiting_mu_;
  std::unordered_set<std::shared_ptr<Pending>> waiting_;  // guarded by waiting_mu_
};

}  // namespace smsr
