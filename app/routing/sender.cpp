#include "app/routing/sender.hpp"

#include <nlohmann/json.hpp>

#include "app/twilio/error_codes.hpp"
#include "app/twilio/segments.hpp"
#include "app/twilio/webhook_paths.hpp"
#include "core/log.hpp"
#include "core/phone.hpp"
#include "storage/store.hpp"
#include "util/backoff.hpp"

namespace smsr {

std::vector<std::int64_t> queue_outgoing(WriteTxn& txn, const OutgoingSms& sms, std::size_t max_chars) {
  auto parts = split_message(sms.body, max_chars);
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    UsageLog log;
    log.user_id = sms.user_id;
    log.phone_number = sms.to;
    log.direction = "outbound";
    log.content = parts[i];
    log.processing_time_ms = sms.processing_ms;
    nlohmann::json meta = {{"outcome", std::string(to_text(sms.kind))},
                           {"via", "rest"},
                           {"segments", count_segments(parts[i]).segments}};
    if (!sms.reply_to_sid.empty()) meta["reply_to"] = sms.reply_to_sid;
    if (parts.size() > 1) {
      meta["part"] = i + 1;
      meta["parts"] = parts.size();
    }
    log.metadata_json = meta.dump();
    OutboundRecord out;
    out.inbound_id = sms.inbound_id;
    out.user_id = sms.user_id;
    out.to_number = sms.to;
    out.from_number = sms.from;
    out.body = parts[i];
    out.part = static_cast<int>(i + 1);
    out.parts = static_cast<int>(parts.size());
    out.usage_log_id = txn.insert_usage_log(log);
    ids.push_back(txn.queue_outbound(out));
  }
  return ids;
}

Sender::Sender(Store& store, TwilioApi& api, const Settings& settings, const Clock& clock, SenderOptions options)
    : store_(store),
      api_(api),
      settings_(settings),
      clock_(clock),
      options_(options),
      scheduler_(clock, "sender", [this](const std::string& to, Task& task) { return send(to, task); }) {}

void Sender::start() {
  auto unsent = store_.unsent_outbound();
  for (const auto& m : unsent) {
    if (m.state == OutboundState::kSending) {
      // The process stopped during this call: Twilio may or may not have the message.
      LOG_WARN("sms.resend_after_crash", {"outbound_id", m.id}, {"to", redact_phone(m.to_number)},
               {"hint", "an attempt was interrupted; the recipient may get this message twice"});
    }
    scheduler_.push(m.to_number, Task{m.id});
  }
  if (!unsent.empty()) LOG_INFO("sender.resumed", {"unsent", unsent.size()});
  scheduler_.start(options_.workers);
}

void Sender::schedule(const std::string& to, const std::vector<std::int64_t>& ids) {
  for (auto id : ids) scheduler_.push(to, Task{id});
}

std::optional<std::chrono::steady_clock::time_point> Sender::send(const std::string& to, Task& task) {
  try {
    auto message = store_.outbound_by_id(task.outbound_id);
    if (!message || (message->state != OutboundState::kQueued && message->state != OutboundState::kSending)) return std::nullopt;
    if (store_.is_opted_out(to)) {
      store_.write([&](WriteTxn& txn) {
        txn.mark_outbound_failed(message->id, "not sent: the recipient has opted out (STOP)",
                                 twilio_error::kUnsubscribedRecipient);
      });
      LOG_INFO("sms.suppressed", {"outbound_id", message->id}, {"to", redact_phone(to)}, {"reason", "opted out"});
      return std::nullopt;
    }
    store_.write([&](WriteTxn& txn) { txn.mark_outbound_sending(message->id); });
    int attempt = message->attempts + 1;

    auto config = settings_.current();
    SendResult result = api_.send({message->from_number, to, message->body,
                                   config->public_url + kStatusWebhookPath});
    switch (result.kind) {
      case SendResult::Kind::kAccepted:
        store_.write([&](WriteTxn& txn) { txn.mark_outbound_sent(message->id, result.sid, result.status); });
        LOG_INFO("sms.sent", {"outbound_id", message->id}, {"to", redact_phone(to)}, {"sid", result.sid},
                 {"part", std::to_string(message->part) + "/" + std::to_string(message->parts)},
                 {"attempt", attempt});
        return std::nullopt;
      case SendResult::Kind::kOptedOut:
        store_.write([&](WriteTxn& txn) {
          txn.set_opted_out(to, true);
          txn.mark_outbound_failed(message->id, result.error, result.error_code);
        });
        LOG_WARN("sms.recipient_opted_out", {"outbound_id", message->id}, {"to", redact_phone(to)});
        return std::nullopt;
      case SendResult::Kind::kRejected:
        store_.write([&](WriteTxn& txn) { txn.mark_outbound_failed(message->id, result.error, result.error_code); });
        LOG_ERROR("sms.rejected", {"outbound_id", message->id}, {"to", redact_phone(to)}, {"error", result.error});
        return std::nullopt;
      case SendResult::Kind::kRetryable:
        break;
    }
    if (attempt >= options_.max_attempts) {
      store_.write([&](WriteTxn& txn) { txn.mark_outbound_failed(message->id, result.error, result.error_code); });
      LOG_ERROR("sms.failed", {"outbound_id", message->id}, {"to", redact_phone(to)}, {"attempts", attempt},
                {"error", result.error});
      return std::nullopt;
    }
    store_.write([&](WriteTxn& txn) { txn.mark_outbound_retry(message->id, result.error); });
    auto delay = backoff_delay(attempt, options_.retry_base, options_.retry_cap);
    LOG_WARN("sms.retry", {"outbound_id", message->id}, {"to", redact_phone(to)}, {"attempt", attempt},
             {"retry_in_ms", delay.count()}, {"error", result.error});
    return clock_.steady() + delay;
  } catch (const std::exception& e) {
    // The local store failed: keep the message and try again later.
    LOG_ERROR("sender.store_failed", {"outbound_id", task.outbound_id}, {"error", e.what()});
    return clock_.steady() + options_.retry_cap;
  }
}

}  // namespace smsr
