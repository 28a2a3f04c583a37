#include "app/routing/inbound.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <future>

#include <nlohmann/json.hpp>

#include "app/routing/directory.hpp"
#include "app/routing/dispatcher.hpp"
#include "app/routing/spam.hpp"
#include "app/twilio/segments.hpp"
#include "app/twilio/twiml.hpp"
#include "core/log.hpp"
#include "storage/store.hpp"
#include "util/strings.hpp"
#include "util/utf8.hpp"

namespace smsr {
namespace {

constexpr EpochMs kMinuteMs = 60 * 1000;
constexpr EpochMs kDayMs = 24 * 60 * 60 * 1000;


std::string url_encode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string media_json(const std::vector<InboundSms::Media>& media) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : media) out.push_back({{"url", m.url}, {"content_type", m.content_type}});
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// An inbound usage log's metadata, as nlohmann::json writes it (keys sorted), but built
// without a JSON object: it is made on the writer thread. Outcomes are plain words.
std::string inbound_metadata(Outcome outcome, int segments, std::size_t num_media) {
  return "{\"num_media\":" + std::to_string(num_media) + ",\"outcome\":\"" + std::string(to_text(outcome)) +
         "\",\"segments\":" + std::to_string(segments) + "}";
}

}  // namespace

Keyword classify_keyword(const std::string& body, const std::string& opt_out_type) {
  std::string type = upper_cased(trim(opt_out_type));
  if (type == "STOP") return Keyword::kOptOut;
  if (type == "START") return Keyword::kOptIn;
  if (type == "HELP") return Keyword::kHelp;
  std::string word = upper_cased(trim(body));
  static const char* const kOptOutWords[] = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL",
                                             "END",  "QUIT",    "REVOKE",      "OPTOUT"};
  static const char* const kOptInWords[] = {"START", "YES", "UNSTOP"};
  static const char* const kHelpWords[] = {"HELP", "INFO"};
  for (const char* w : kOptOutWords) if (word == w) return Keyword::kOptOut;
  for (const char* w : kOptInWords) if (word == w) return Keyword::kOptIn;
  for (const char* w : kHelpWords) if (word == w) return Keyword::kHelp;
  return Keyword::kNone;
}

std::string unknown_sender_reply(const RepliesConfig& replies, const std::string& body,
                                 const std::string& e164) {
  std::string text = replies.unknown_sender;
  auto it = replies.unknown_keywords.find(upper_cased(trim(body)));
  if (it != replies.unknown_keywords.end()) text = it->second;
  const std::string placeholder = "{phone}";
  for (auto pos = text.find(placeholder); pos != std::string::npos; pos = text.find(placeholder, pos)) {
    auto encoded = url_encode(e164);
    text.replace(pos, placeholder.size(), encoded);
    pos += encoded.size();
  }
  return text;
}

struct InboundService::Admission {
  bool duplicate = false;
  std::int64_t inbound_id = 0;
  Outcome outcome = Outcome::kUnknown;
  std::optional<UserId> user_id;
  std::string twiml;     // the answer, for everything but routed messages
  InboundRecord record;  // as inserted, for routed messages
};

InboundService::InboundService(Store& store, PhoneDirectory& directory, Dispatcher& dispatcher,
                               const PhoneNormalizer& normalizer, const Settings& settings,
                               const Clock& clock, TimerQueue& timers)
    : store_(store),
      directory_(directory),
      dispatcher_(dispatcher),
      normalizer_(normalizer),
      settings_(settings),
      clock_(clock),
      timers_(timers) {}

// One webhook's admission, shared by the webhook's thread, the writer (which decides and
// fills in `admission`), the store's notifier (which hands a routed message to the
// dispatcher) and whoever settles its reply slot. The inputs are copies: the write runs
// after admit() has returned.
struct InboundService::Pending {
  InboundSms sms;
  std::shared_ptr<const Config> config;
  Done done;
  std::chrono::steady_clock::time_point started;
  std::string request_id;
  bool is_number = false;
  std::string from;  // E.164 when it is a number, else as received
  Resolution owner;
  Keyword keyword = Keyword::kNone;
  double spam_points = 0;
  int body_segments = 0;
  std::string media_json;
  Admission admission;  // written by the writer; read after its commit
  std::shared_ptr<ReplySlot> slot;
  // Two things end the wait, in either order: the slot settles and the admission commits.
  std::atomic<int> steps_left{2};
  std::optional<ReplySlot::Inline> reply;  // set when the slot settles
  std::exception_ptr failure;              // set when the admission's batch failed
  TimerQueue::Id deadline = 0;
};

InboundService::Answer InboundService::receive(const InboundSms& sms) {
  std::promise<Answer> promise;
  auto answer = promise.get_future();
  receive_async(sms, [&promise](Answer a) { promise.set_value(std::move(a)); });
  Answer a = answer.get();
  if (a.failure) std::rethrow_exception(a.failure);
  return a;
}

void InboundService::receive_async(const InboundSms& sms, Done done) {
  auto config = settings_.current();
  auto pending = std::make_shared<Pending>();
  pending->sms = sms;
  pending->config = config;
  pending->done = std::move(done);
  pending->started = clock_.steady();
  pending->request_id = current_request_id();
  pending->slot = std::make_shared<ReplySlot>([this, pending](std::optional<ReplySlot::Inline> reply) {
    pending->reply = std::move(reply);
    step_done(pending);
  });
  identify_sender(*pending);
  const int wait_ms = draining_.load() ? 0 : config->agent.inline_wait_ms;
  {
    std::lock_guard lock(waiting_mu_);
    waiting_.insert(pending);
  }
  // At the deadline a slot still waiting gives up; a claimed one gets a little longer for
  // its reply to be recorded (one commit), as the dispatcher fulfils it right after.
  pending->deadline = timers_.after(std::chrono::milliseconds(wait_ms), [this, pending] {
    if (!pending->slot->give_up()) timers_.after(std::chrono::seconds(10), [pending] { pending->slot->abandon(); });
  });
  try {
    admit(pending);
  } catch (...) {
    timers_.cancel(pending->deadline);
    std::lock_guard lock(waiting_mu_);
    waiting_.erase(pending);
    throw;
  }
}

void InboundService::end_inline_waits() {
  draining_ = true;
  std::vector<std::shared_ptr<Pending>> waiting;
  {
    std::lock_guard lock(waiting_mu_);
    waiting.assign(waiting_.begin(), waiting_.end());
  }
  for (const auto& pending : waiting) pending->slot->give_up();
}

void InboundService::step_done(const std::shared_ptr<Pending>& pending) {
  if (pending->steps_left.fetch_sub(1) != 1) return;
  timers_.cancel(pending->deadline);
  {
    std::lock_guard lock(waiting_mu_);
    waiting_.erase(pending);
  }
  ScopedRequestId scoped(pending->request_id);  // this runs on another component's thread
  const Admission& admission = pending->admission;
  if (pending->failure) return finish(pending, {});
  if (admission.outcome == Outcome::kSpam && !admission.duplicate) {
    // Logged here, not in the write: a write may run twice (Store::write_then).
    LOG_INFO("message.spam", {"message_sid", pending->sms.message_sid}, {"from", redact_phone(pending->from)},
             {"score", std::to_string(pending->spam_points)});
  }
  // This may run on the store's notifier thread, which must not call the store: what
  // needs it goes on on the timer thread.
  if (admission.duplicate) {
    auto deadline = clock_.steady() + std::chrono::milliseconds(pending->config->agent.inline_wait_ms) +
                    std::chrono::seconds(1);
    timers_.post([this, pending, deadline] { answer_duplicate(pending, deadline); });
    return;
  }
  if (admission.outcome == Outcome::kRouted && !pending->reply) {
    // Too slow for this webhook: answer empty now; the reply will go out through the REST
    // API. The answer is stored first, for Twilio's retry of this webhook.
    timers_.post([this, pending] {
      std::string twiml = twiml_response(std::nullopt);
      const std::int64_t id = pending->admission.inbound_id;
      try {
        store_.write_async([id, twiml](WriteTxn& txn) { txn.set_answer(id, twiml); },
                           [this, pending, twiml](std::exception_ptr) { finish(pending, twiml); });
      } catch (...) {
        finish(pending, twiml);  // the store is stopping; the answer is right all the same
      }
    });
    return;
  }
  finish(pending, admission.outcome == Outcome::kRouted ? twiml_response(pending->reply->text) : admission.twiml);
}

void InboundService::finish(const std::shared_ptr<Pending>& pending, std::string twiml) {
  ScopedRequestId scoped(pending->request_id);  // this runs on another component's thread
  const Admission& admission = pending->admission;
  Answer answer;
  if (pending->failure) {
    answer.failure = pending->failure;
  } else {
    answer = {std::move(twiml), admission.outcome, admission.duplicate, nullptr};
  }
  if (!pending->failure && !admission.duplicate) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady() - pending->started).count();
    LOG_INFO("webhook.sms", {"message_sid", pending->sms.message_sid}, {"from", redact_phone(pending->from)},
             {"user_id", admission.user_id ? std::to_string(*admission.user_id) : "-"},
             {"outcome", to_text(admission.outcome)}, {"body_chars", utf8_length(pending->sms.body)}, {"ms", ms});
  }
  Done done = std::move(pending->done);
  done(std::move(answer));
}

void InboundService::identify_sender(Pending& p) {
  const std::string& from = p.sms.from;
  SenderAddress sender;
  // Twilio gives a phone sender in E.164. When that exact string is a number we store, it is
  // already the normalised form (numbers are normalised on the way in), so parsing and
  // validating it again would only cost time: microseconds per number, and at a million
  // users most senders are not in the normaliser's cache.
  const bool looked_up_as_is = is_e164_shaped(from);
  if (looked_up_as_is) {
    p.owner = directory_.resolve(from);
    if (p.owner.kind != Resolution::Kind::kUnknown) sender = {SenderKind::kE164, from};
  }
  if (sender.kind != SenderKind::kE164) {
    sender = normalizer_.classify_sender(from);
    if (sender.kind != SenderKind::kE164) {
      p.owner = Resolution{};
    } else if (!looked_up_as_is || sender.e164 != from) {
      p.owner = directory_.resolve(sender.e164);
    }  // else: the lookup above already found no owner for this very number
  }
  p.is_number = sender.kind == SenderKind::kE164;
  p.from = p.is_number ? sender.e164 : from;
}

void InboundService::admit(const std::shared_ptr<Pending>& pending) {
  Pending& p = *pending;
  const InboundSms& sms = p.sms;
  p.keyword = classify_keyword(sms.body, sms.opt_out_type);
  // Scored outside the write: the writer thread only decides.
  p.spam_points = p.config->spam.enabled ? spam_score(sms.body) : 0.0;
  p.body_segments = count_segments(sms.body).segments;
  p.media_json = media_json(sms.media);

  if (p.owner.kind == Resolution::Kind::kAmbiguous) {
    std::string claimants;
    for (auto id : p.owner.claimants) {
      if (!claimants.empty()) claimants += ',';
      claimants += std::to_string(id);
    }
    LOG_WARN("number.ambiguous", {"from", redact_phone(p.from)}, {"claimants", claimants},
             {"hint", "the number belongs to several users; fix the data so it has one owner"});
  }

  // Everything that depends on earlier messages (dedup, rate, caps, opt-out) is decided
  // inside the write, which the writer thread runs one at a time: no two webhooks can
  // both take the last allowed reply.
  auto decide = [this, pending](WriteTxn& txn) { pending->admission = decide_and_record(txn, *pending); };
  // As soon as it is decided, a routed message goes to its agent (while its batch commits).
  auto hand_on = [this, pending, request_id = pending->request_id](std::exception_ptr error) {
    const Admission& a = pending->admission;
    if (error) {
      pending->slot->release();
    } else if (!a.duplicate && a.outcome == Outcome::kRouted) {
      dispatcher_.enqueue_admitted(a.record, pending->slot, request_id);
    }
  };
  // Once it is on disk (or its batch failed), the webhook's answer may go out; anything but
  // a routed message has no reply to wait for.
  auto on_committed = [this, pending](std::exception_ptr error) {
    const Admission& a = pending->admission;
    pending->failure = error;
    if (error || a.duplicate || a.outcome != Outcome::kRouted) pending->slot->release();
    step_done(pending);
  };
  store_.write_then(decide, hand_on, on_committed);
}

InboundService::Admission InboundService::decide_and_record(WriteTxn& txn, const Pending& p) {
  const InboundSms& sms = p.sms;
  const Config& config = *p.config;
  const bool is_number = p.is_number;
  const std::string& from = p.from;
  const Resolution& owner = p.owner;
  const Keyword keyword = p.keyword;
  const double spam_points = p.spam_points;
  const int body_segments = p.body_segments;
  Admission a;
  if (auto existing = txn.find_inbound(sms.message_sid)) {
    a.duplicate = true;
    a.outcome = existing->outcome;
    return a;
  }
  EpochMs now = txn.now();
  bool opted_out = is_number && txn.is_opted_out(from);
  std::optional<std::string> reply;

  if (keyword == Keyword::kOptOut) {
    a.outcome = Outcome::kOptOut;
    if (is_number) txn.set_opted_out(from, true);
  } else if (keyword == Keyword::kOptIn && (opted_out || !sms.opt_out_type.empty())) {
    // YES/START are ordinary words for someone who never opted out ("Yes" to an agent's
    // question), so they only act as opt-in for an opted-out sender or when Twilio says so.
    a.outcome = Outcome::kOptIn;
    if (is_number) txn.set_opted_out(from, false);
    opted_out = false;
  } else if (keyword == Keyword::kHelp) {
    a.outcome = Outcome::kHelp;
  } else if (owner.kind == Resolution::Kind::kUnknown) {
    a.outcome = Outcome::kUnknown;
    // Short codes and alphanumeric senders cannot usefully be answered; unknown numbers
    // get a capped number of replies (SMS-pumping protection).
    int cap = config.limits.unknown_sender_replies_per_day;
    if (is_number && txn.count_auto_replies_since(from, now - kDayMs, cap) < cap) {
      reply = unknown_sender_reply(config.replies, sms.body, from);
    }
  } else if (owner.kind == Resolution::Kind::kAmbiguous) {
    a.outcome = Outcome::kAmbiguous;
    reply = config.replies.error;
  } else if (!owner.user->active) {
    a.outcome = Outcome::kInactive;
    a.user_id = owner.user->id;
    reply = config.replies.inactive_user;
  } else if (opted_out) {
    a.outcome = Outcome::kOptedOut;
    a.user_id = owner.user->id;
  } else if (int limit = config.limits.per_sender_per_minute;  // 0 = no limit
             limit > 0 && txn.count_routed_since(from, now - kMinuteMs, limit) >= limit) {
    a.outcome = Outcome::kRateLimited;
    a.user_id = owner.user->id;
  } else if (spam_points > config.spam.threshold) {
    a.outcome = Outcome::kSpam;
    a.user_id = owner.user->id;
  } else {
    a.outcome = Outcome::kRouted;
    a.user_id = owner.user->id;
  }
  if (owner.kind == Resolution::Kind::kUser) a.user_id = owner.user->id;

  // Twilio answers opt-out keywords itself, and an opted-out number gets nothing.
  if (!sms.opt_out_type.empty() || opted_out || (reply && reply->empty())) reply.reset();
  a.twiml = twiml_response(reply);

  InboundRecord record;
  record.message_sid = sms.message_sid;
  record.account_sid = sms.account_sid;
  record.from_number = from;
  record.to_number = sms.to;
  record.body = sms.body;
  record.media_json = p.media_json;
  record.user_id = a.user_id;
  record.outcome = a.outcome;
  record.state = a.outcome == Outcome::kRouted ? InboundState::kPending : InboundState::kDone;
  record.auto_reply = reply.has_value();
  if (a.outcome != Outcome::kRouted) record.answer_twiml = a.twiml;
  record.received_ms = now;
  a.inbound_id = txn.insert_inbound(record);
  if (a.outcome == Outcome::kRouted) {
    record.id = a.inbound_id;
    a.record = std::move(record);
  }

  UsageLog in;
  in.user_id = a.user_id;
  in.phone_number = from;
  in.direction = "inbound";
  in.content = sms.body;
  in.twilio_message_sid = sms.message_sid;
  in.metadata_json = inbound_metadata(a.outcome, body_segments, sms.media.size());
  txn.insert_usage_log(in);
  if (reply) {
    UsageLog out;
    out.user_id = a.user_id;
    out.phone_number = from;
    out.direction = "outbound";
    out.content = *reply;
    out.metadata_json = nlohmann::json{{"outcome", std::string(to_text(a.outcome))},
                                       {"via", "inline"},
                                       {"reply_to", sms.message_sid},
                                       {"segments", count_segments(*reply).segments}}
                            .dump();
    txn.insert_usage_log(out);
  }
  return a;
}

void InboundService::answer_duplicate(const std::shared_ptr<Pending>& pending,
                                      std::chrono::steady_clock::time_point deadline) {
  // The first copy may still be waiting for its reply; its answer is stored once decided.
  std::optional<InboundRecord> existing;
  try {
    existing = store_.inbound_by_sid(pending->sms.message_sid);
  } catch (const StoreError&) {
    pending->failure = std::current_exception();
    return finish(pending, {});
  }
  if (existing && existing->answer_twiml) return finish(pending, *existing->answer_twiml);
  if (clock_.steady() >= deadline) return finish(pending, twiml_response(std::nullopt));
  timers_.after(std::chrono::milliseconds(20), [this, pending, deadline] { answer_duplicate(pending, deadline); });
}

}  // namespace smsr
