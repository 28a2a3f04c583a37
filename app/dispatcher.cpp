#include "app/dispatcher.hpp"

#include <nlohmann/json.hpp>
#include <random>

#include "app/text.hpp"
#include "core/log.hpp"
#include "core/phone.hpp"
#include "storage/store.hpp"

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

Dispatcher::Dispatcher(Store& store, Agent& agent, const Settings& settings, const Clock& clock,
                       DispatcherOptions options)
    : store_(store), agent_(agent), settings_(settings), clock_(clock), options_(options) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  auto pending = store_.pending_inbound();
  for (const auto& m : pending) {
    if (m.user_id) enqueue(m.id, *m.user_id, nullptr);
  }
  if (!pending.empty()) {
    LOG_INFO("dispatcher.resumed", {"pending", pending.size()});
  }
  int n = std::max(1, options_.workers);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
}

void Dispatcher::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

void Dispatcher::enqueue(std::int64_t inbound_id, UserId user_id, std::shared_ptr<ReplySlot> slot) {
  {
    std::lock_guard lock(mu_);
    auto& q = users_[user_id];
    q.tasks.push_back({inbound_id, std::move(slot)});
    ++queued_;
    if (q.scheduled) return;
    q.scheduled = true;
    ready_.push_back(user_id);
  }
  cv_.notify_one();
}

std::size_t Dispatcher::queue_depth() const {
  std::lock_guard lock(mu_);
  return queued_;
}

void Dispatcher::worker_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    // Move users whose retry time has come back to the ready list.
    auto now = clock_.steady();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      ready_.push_back(delayed_.begin()->second);
      delayed_.erase(delayed_.begin());
    }
    if (stopping_) return;
    if (ready_.empty()) {
      if (delayed_.empty()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, delayed_.begin()->first);
      }
      continue;
    }
    UserId user_id = ready_.front();
    ready_.pop_front();
    Task task = users_[user_id].tasks.front();
    lock.unlock();

    std::optional<SteadyTime> retry_at;
    try {
      retry_at = deliver(task);
    } catch (const std::exception& e) {
      // The store failed (disk full, I/O): keep the message pending and try again later.
      LOG_ERROR("dispatch.store_failed", {"message_id", task.inbound_id}, {"error", e.what()});
      retry_at = clock_.steady() + options_.retry_cap;
    }

    lock.lock();
    auto& q = users_[user_id];
    if (retry_at) {
      delayed_.emplace(*retry_at, user_id);
      cv_.notify_one();  // somebody must wake up for it, even if no new work comes
      continue;
    }
    q.tasks.pop_front();
    --queued_;
    if (q.tasks.empty()) {
      users_.erase(user_id);
    } else {
      ready_.push_back(user_id);
    }
  }
}

std::chrono::milliseconds Dispatcher::backoff(int attempts) const {
  // Exponential with "equal jitter": half fixed, half random, so retries of many messages
  // spread out but never come back sooner than half the nominal delay.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto nominal = options_.retry_base * (1LL << std::min(attempts - 1, 20));
  if (nominal > options_.retry_cap) nominal = options_.retry_cap;
  auto half = nominal.count() / 2;
  std::uniform_int_distribution<long long> jitter(0, std::max<long long>(half, 1));
  return std::chrono::milliseconds(half + jitter(rng));
}

std::optional<Dispatcher::SteadyTime> Dispatcher::deliver(const Task& task) {
  auto message = store_.inbound_by_id(task.inbound_id);
  if (!message || message->state != "pending") return std::nullopt;  // already handled
  auto config = settings_.current();
  auto started = clock_.steady();

  auto owner = message->user_id ? store_.user(*message->user_id) : std::nullopt;
  if (!owner || !owner->user.active) {
    // The user was removed or deactivated after the message arrived: nobody else's agent
    // may see it, so it ends here.
    finish(*message, task.slot, "failed", std::nullopt,
           owner ? "user became inactive before delivery" : "user removed before delivery", 0);
    return std::nullopt;
  }

  AgentRequest request;
  request.user = owner->user;
  request.message_sid = message->message_sid;
  request.from = message->from_number;
  request.to = message->to_number;
  request.body = message->body;
  request.media = parse_media(message->media_json);
  request.received_ms = message->received_ms;
  for (auto& h : store_.history(owner->user.id, message->id, config->agent.history_messages)) {
    request.history.push_back({std::move(h.direction), std::move(h.body), h.at});
  }

  counters_.calls.fetch_add(1, std::memory_order_relaxed);
  AgentResult result = agent_.call(request);
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady() - started).count();
  counters_.latency_ms_total.fetch_add(static_cast<std::uint64_t>(elapsed), std::memory_order_relaxed);
  auto processing_ms = clock_.now_ms() - message->received_ms;

  switch (result.kind) {
    case AgentResult::Kind::kReply:
      finish(*message, task.slot, "done", result.reply, "", processing_ms);
      return std::nullopt;
    case AgentResult::Kind::kNoReply:
      finish(*message, task.slot, "done", std::nullopt, "", processing_ms);
      return std::nullopt;
    case AgentResult::Kind::kRetryable:
    case AgentResult::Kind::kFailed:
      break;
  }

  counters_.failures.fetch_add(1, std::memory_order_relaxed);
  int attempts = message->attempts + 1;
  store_.write([&](WriteTxn& txn) { txn.record_attempt(message->id, result.error); });
  bool retry = result.kind == AgentResult::Kind::kRetryable && attempts < config->agent.max_attempts;
  LOG_WARN("agent.attempt_failed", {"message_sid", message->message_sid}, {"user_id", owner->user.id},
           {"attempt", attempts}, {"max_attempts", config->agent.max_attempts}, {"error", result.error},
           {"retry", retry ? "yes" : "no"});
  if (retry) return clock_.steady() + backoff(attempts);

  finish(*message, task.slot, "failed", config->replies.error, result.error, processing_ms);
  return std::nullopt;
}

void Dispatcher::finish(const InboundRecord& message, const std::shared_ptr<ReplySlot>& slot,
                        const std::string& state, const std::optional<std::string>& reply,
                        const std::string& error, std::int64_t processing_ms) {
  bool has_reply = reply && !reply->empty();
  bool inline_reply = slot && slot->claim();
  std::string via = inline_reply ? "inline" : "rest";
  try {
    store_.write([&](WriteTxn& txn) {
      txn.finish_inbound(message.id, state, has_reply ? reply : std::nullopt, error);
      if (inline_reply) txn.set_answer(message.id, twiml_response(has_reply ? reply : std::nullopt));
      if (!has_reply) return;
      if (!inline_reply) {
        txn.queue_outbound({0, message.id, message.user_id, message.from_number, message.to_number,
                            *reply, "queued"});
      }
      auto segments = count_segments(*reply);
      UsageLog log;
      log.user_id = message.user_id;
      log.phone_number = message.from_number;
      log.direction = "outbound";
      log.content = *reply;
      log.success = state == "done";
      log.processing_time_ms = processing_ms;
      log.error_message = error;
      log.metadata_json = nlohmann::json{{"outcome", state == "done" ? "reply" : "error_reply"},
                                         {"via", via},
                                         {"reply_to", message.message_sid},
                                         {"segments", segments.segments}}
                              .dump();
      txn.insert_usage_log(log);
    });
  } catch (const std::exception& e) {
    LOG_ERROR("dispatch.record_failed", {"message_sid", message.message_sid}, {"error", e.what()});
    if (inline_reply) slot->fulfil(has_reply ? reply : std::nullopt);
    throw;
  }
  if (inline_reply) slot->fulfil(has_reply ? reply : std::nullopt);
  if (state == "failed") {
    LOG_ERROR("message.failed", {"message_sid", message.message_sid},
              {"from", redact_phone(message.from_number)}, {"error", error});
  } else {
    LOG_INFO("message.delivered", {"message_sid", message.message_sid},
             {"from", redact_phone(message.from_number)}, {"reply", has_reply ? via : "none"},
             {"ms", processing_ms});
  }
}

}  // namespace smsr
