#include "app/routing/dispatcher.hpp"

#include <nlohmann/json.hpp>
#include <random>

#include "app/routing/sender.hpp"
#include "app/twilio/segments.hpp"
#include "app/twilio/twiml.hpp"
#include "core/log.hpp"
#include "core/phone.hpp"
#include "storage/store.hpp"
#include "util/backoff.hpp"

namespace smsr {
namespace {

std::vector<AgentMedia> parse_media(const std::string& media_json) {
  std::vector<AgentMedia> out;
  auto media = nlohmann::json::parse(media_json, nullptr, false);
  if (!media.is_array()) return out;
  for (const auto& m : media) {
    out.push_back({m.value("url", ""), m.value("content_type", "")});
  }
  return out;
}

}  // namespace

Dispatcher::Dispatcher(Store& store, Agent& agent, Sender& sender, const Settings& settings,
                       const Clock& clock, DispatcherOptions options)
    : store_(store),
      agent_(agent),
      sender_(sender),
      settings_(settings),
      clock_(clock),
      options_(options),
      scheduler_(clock, "dispatch", [this](const UserId&, Task& task) { return deliver(task); }) {}

void Dispatcher::start() {
  auto pending = store_.pending_inbound();
  for (const auto& m : pending) {
    if (m.user_id) enqueue(m.id, *m.user_id, nullptr);
  }
  if (!pending.empty()) LOG_INFO("dispatcher.resumed", {"pending", pending.size()});
  scheduler_.start(options_.workers);
}

void Dispatcher::enqueue(std::int64_t inbound_id, UserId user_id, std::shared_ptr<ReplySlot> slot) {
  scheduler_.push(user_id, Task{inbound_id, std::move(slot), current_request_id(), std::nullopt});
}

void Dispatcher::enqueue_admitted(InboundRecord message, std::shared_ptr<ReplySlot> slot, std::string request_id) {
  UserId user_id = *message.user_id;
  std::int64_t inbound_id = message.id;
  scheduler_.push(user_id, Task{inbound_id, std::move(slot), std::move(request_id), std::move(message)});
}

std::optional<Dispatcher::TimePoint> Dispatcher::deliver(Task& task) {
  ScopedRequestId request_id(task.request_id);
  try {
    return deliver_or_throw(task);
  } catch (const std::exception& e) {
    // The store failed (disk full, I/O): keep the message pending and try again later.
    LOG_ERROR("dispatch.store_failed", {"message_id", task.inbound_id}, {"error", e.what()});
    return clock_.steady() + options_.retry_cap;
  }
}

std::optional<Dispatcher::TimePoint> Dispatcher::deliver_or_throw(Task& task) {
  auto config = settings_.current();
  std::optional<Store::DeliveryContext> context;
  if (task.admitted) {
    context = store_.delivery_context(std::move(*task.admitted), config->agent.history_messages);
    task.admitted.reset();  // a retry reads it back: by then it is committed
  } else {
    context = store_.delivery_context(task.inbound_id, config->agent.history_messages);
  }
  if (!context || context->message.state != InboundState::kPending) return std::nullopt;  // already handled
  const InboundRecord* message = &context->message;

  if (!context->user || !context->user->active) {
    // The user was removed or deactivated after the message arrived: nobody else's agent
    // may see it, so it ends here.
    finish(*message, task.slot, InboundState::kFailed, std::nullopt,
           context->user ? "user became inactive before delivery" : "user removed before delivery", 0);
    return Scheduler::kParked;
  }
  const User& user = *context->user;

  AgentRequest request;
  request.user = user;
  request.message_sid = message->message_sid;
  request.from = message->from_number;
  request.to = message->to_number;
  request.body = message->body;
  request.media = parse_media(message->media_json);
  request.received_ms = message->received_ms;
  for (auto& h : context->history) {
    request.history.push_back({std::move(h.direction), std::move(h.body), h.at});
  }

  AgentResult result = agent_.call(request);
  auto processing_ms = clock_.now_ms() - message->received_ms;

  switch (result.kind) {
    case AgentResult::Kind::kReply:
      finish(*message, task.slot, InboundState::kDone, result.reply, "", processing_ms);
      return Scheduler::kParked;
    case AgentResult::Kind::kNoReply:
      finish(*message, task.slot, InboundState::kDone, std::nullopt, "", processing_ms);
      return Scheduler::kParked;
    case AgentResult::Kind::kRetryable:
    case AgentResult::Kind::kFailed:
      break;
  }

  int attempts = message->attempts + 1;
  if (!store_.write([&](WriteTxn& txn) { return txn.record_attempt(message->id, message->message_sid, result.error); })) {
    // Its admission never committed (the webhook answered 503 and Twilio will retry it).
    LOG_WARN("dispatch.message_not_stored", {"message_sid", message->message_sid});
    return std::nullopt;
  }
  bool retry = result.kind == AgentResult::Kind::kRetryable && attempts < config->agent.max_attempts;
  LOG_WARN("agent.attempt_failed", {"message_sid", message->message_sid}, {"user_id", user.id},
           {"attempt", attempts}, {"max_attempts", config->agent.max_attempts}, {"error", result.error},
           {"retry", retry ? "yes" : "no"});
  if (retry) return clock_.steady() + backoff_delay(attempts, options_.retry_base, options_.retry_cap);

  finish(*message, task.slot, InboundState::kFailed, config->replies.error, result.error, processing_ms);
  return Scheduler::kParked;
}

void Dispatcher::finish(const InboundRecord& message, const std::shared_ptr<ReplySlot>& slot,
                        InboundState state, const std::optional<std::string>& reply,
                        const std::string& error, std::int64_t processing_ms) {
  // What the write learns, for the commit callback (which runs after it, on another thread).
  struct Effects {
    bool stored = true;
    std::vector<std::int64_t> queued;
  };
  auto effects = std::make_shared<Effects>();
  const bool has_reply = reply && !reply->empty();
  const bool inline_reply = slot && slot->claim();
  // Counted here, not in the write: the writer thread is the one shared by all webhooks.
  const int reply_segments = has_reply ? count_segments(*reply).segments : 0;
  const auto max_chars = static_cast<std::size_t>(settings_.current()->limits.max_message_chars);
  const std::optional<std::string> sent = has_reply ? reply : std::nullopt;
  const OutgoingSms sms{message.id, message.user_id, message.from_number, message.to_number, has_reply ? *reply : "",
                        state == InboundState::kDone ? OutgoingKind::kReply : OutgoingKind::kErrorReply, message.message_sid,
                        processing_ms};
  // Everything that needs no database is prepared here: the writer thread is shared by all.
  std::optional<std::string> answer;
  UsageLog log;
  if (inline_reply) {
    answer = twiml_response(sent);
    log.user_id = message.user_id;
    log.phone_number = message.from_number;
    log.direction = "outbound";
    log.content = sms.body;
    log.success = state == InboundState::kDone;
    log.processing_time_ms = processing_ms;
    log.error_message = error;
    log.metadata_json = nlohmann::json{{"outcome", std::string(to_text(sms.kind))},
                                       {"via", "inline"},
                                       {"reply_to", message.message_sid},
                                       {"segments", reply_segments}}
                            .dump();
  }

  auto record = [=, id = message.id, sid = message.message_sid](WriteTxn& txn) {  // runs later: all by value
    effects->stored = txn.finish_inbound(id, sid, state, sent, error, answer);
    if (!effects->stored || !has_reply) return;
    if (inline_reply) {
      txn.insert_usage_log(log);
    } else {
      effects->queued = queue_outgoing(txn, sms, max_chars);
    }
  };
  // The message's user stays busy until this commit: the next message of the user starts
  // only once this one is finished (or rescheduled), and the worker is free meanwhile.
  auto committed = [this, effects, slot, inline_reply, sent, state, error, processing_ms,
                    request_id = current_request_id(), user_id = *message.user_id,
                    message_sid = message.message_sid, from = message.from_number](std::exception_ptr failure) {
    ScopedRequestId scoped(request_id);
    if (inline_reply) slot->fulfil(sent);  // if not stored, the webhook answers 503 itself
    if (failure) {
      // The store failed (disk full, I/O): the message stays pending and is tried again.
      std::string what = "unknown error";
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      LOG_ERROR("dispatch.record_failed", {"message_sid", message_sid}, {"error", what});
      scheduler_.resume(user_id, clock_.steady() + options_.retry_cap);
      return;
    }
    sender_.schedule(from, effects->queued);
    if (!effects->stored) {
      LOG_WARN("dispatch.message_not_stored", {"message_sid", message_sid});
    } else if (state == InboundState::kFailed) {
      LOG_ERROR("message.failed", {"message_sid", message_sid}, {"from", redact_phone(from)}, {"error", error});
    } else {
      LOG_INFO("message.delivered", {"message_sid", message_sid}, {"from", redact_phone(from)},
               {"reply", sent ? (inline_reply ? "inline" : "rest") : "none"}, {"ms", processing_ms});
    }
    scheduler_.resume(user_id, std::nullopt);
  };
  try {
    store_.write_async(record, committed);
  } catch (...) {
    if (inline_reply) slot->fulfil(sent);  // the store is stopping; the webhook finds that out itself
    throw;
  }
}

}  // namespace smsr
