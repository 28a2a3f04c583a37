// What happens to an inbound SMS once the HTTP layer has checked its signature: dedup by
// MessageSid, who sent it, whether it may reach an agent, the durable record, and the
// TwiML answer. SPEC "What happens, by sender".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/routing/reply_slot.hpp"
#include "app/routing/settings.hpp"
#include "core/clock.hpp"
#include "core/message.hpp"
#include "core/phone.hpp"
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
                 const PhoneNormalizer& normalizer, const Settings& settings, const Clock& clock);

  struct Answer {
    std::string twiml;
    Outcome outcome = Outcome::kUnknown;  // for a duplicate: the first delivery's
    bool duplicate = false;
  };

  // Handles one verified webhook. The message is on disk before this returns. Throws
  // StoreError when it cannot be stored (the caller answers 503).
  Answer receive(const InboundSms& sms);

 private:
  struct Admission;
  struct Pending;
  // Queues the write that decides and records the message and returns at once (see
  // Store::write_then): once decided, a routed message goes to the dispatcher while its
  // batch commits; for anything else the webhook's reply slot is released once committed.
  Store::CommitTicket admit(const std::shared_ptr<Pending>& pending);
  // Sets the pending message's sender (normalised when it is a number) and its owner.
  void identify_sender(Pending& pending);
  // On the writer thread: dedup, opt-out, limits, caps, spam; records the message.
  Admission decide_and_record(WriteTxn& txn, const Pending& pending);
  std::string answer_of_duplicate(const std::string& message_sid, int wait_ms);

  Store& store_;
  PhoneDirectory& directory_;
  Dispatcher& dispatcher_;
  const PhoneNormalizer& normalizer_;
  const Settings& settings_;
  const Clock& clock_;
};

}  // namespace smsr
