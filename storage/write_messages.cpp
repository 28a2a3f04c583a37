// WriteTxn: inbound messages, usage logs, opt-outs and the outbound queue.
#include "storage/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <set>

#include <SQLiteCpp/Exception.h>

#include "core/log.hpp"
#include "storage/database.hpp"
#include "storage/rows.hpp"

namespace smsr {

using namespace rows;

std::optional<InboundRecord> WriteTxn::find_inbound(const std::string& message_sid) {
  auto& st = conn_.prepare(std::string("SELECT ") + kInboundColumns +
                           " FROM inbound_messages WHERE message_sid = ?");
  st.bind(1, message_sid);
  if (!st.executeStep()) return std::nullopt;
  return read_inbound(st);
}

int WriteTxn::count_routed_since(const std::string& from, EpochMs since, int limit) {
  return senders_.count_since(from, since, limit);
}

int WriteTxn::count_auto_replies_since(const std::string& from, EpochMs since, int limit) {
  auto& st = conn_.prepare(
      "SELECT count(*) FROM (SELECT 1 FROM inbound_messages WHERE from_number = ? "
      "AND received_ms >= ? AND auto_reply = 1 LIMIT ?)");
  st.bind(1, from);
  st.bind(2, static_cast<std::int64_t>(since));
  st.bind(3, limit);
  st.executeStep();
  return st.getColumn(0).getInt();
}

std::int64_t WriteTxn::insert_inbound(const InboundRecord& r) {
  auto& st = conn_.prepare(
      "INSERT INTO inbound_messages (message_sid, account_sid, from_number, to_number, body, "
      "media_json, user_id, outcome, state, auto_reply, answer_twiml, received_ms) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, r.message_sid);
  st.bind(2, r.account_sid);
  st.bind(3, r.from_number);
  st.bind(4, r.to_number);
  st.bind(5, r.body);
  st.bind(6, r.media_json);
  bind_optional(st, 7, r.user_id);
  st.bind(8, std::string(to_text(r.outcome)));
  st.bind(9, std::string(to_text(r.state)));
  st.bind(10, r.auto_reply ? 1 : 0);
  bind_optional(st, 11, r.answer_twiml);
  st.bind(12, static_cast<std::int64_t>(r.received_ms));
  st.exec();
  if (r.outcome == Outcome::kRouted) {
    senders_.add(r.from_number, r.received_ms);
    window_adds_.emplace_back(r.from_number, r.received_ms);
  }
  return conn_.db().getLastInsertRowid();
}

void WriteTxn::set_answer(std::int64_t inbound_id, const std::string& twiml) {
  auto& st = conn_.prepare("UPDATE inbound_messages SET answer_twiml = ? WHERE id = ?");
  st.bind(1, twiml);
  st.bind(2, static_cast<std::int64_t>(inbound_id));
  st.exec();
}

bool WriteTxn::finish_inbound(std::int64_t inbound_id, const std::string& message_sid, InboundState state,
                              const std::optional<std::string>& reply, const std::string& error,
                              const std::optional<std::string>& answer_twiml) {
  auto& st = conn_.prepare(
      "UPDATE inbound_messages SET state = ?, reply_body = ?, last_error = ?, done_ms = ?, "
      "answer_twiml = coalesce(?, answer_twiml) WHERE id = ? AND message_sid = ?");
  st.bind(1, std::string(to_text(state)));
  bind_optional(st, 2, reply);
  if (error.empty()) st.bind(3);
  else st.bind(3, error);
  st.bind(4, static_cast<std::int64_t>(now_));
  bind_optional(st, 5, answer_twiml);
  st.bind(6, static_cast<std::int64_t>(inbound_id));
  st.bind(7, message_sid);
  return st.exec() == 1;
}

bool WriteTxn::record_attempt(std::int64_t inbound_id, const std::string& message_sid, const std::string& error) {
  auto& st = conn_.prepare(
      "UPDATE inbound_messages SET attempts = attempts + 1, last_error = ? WHERE id = ? AND message_sid = ?");
  if (error.empty()) st.bind(1);
  else st.bind(1, error);
  st.bind(2, static_cast<std::int64_t>(inbound_id));
  st.bind(3, message_sid);
  return st.exec() == 1;
}

std::int64_t WriteTxn::insert_usage_log(const UsageLog& log) {
  auto& st = conn_.prepare(
      "INSERT INTO usage_logs (user_id, phone_number, message_direction, message_length, "
      "message_content, success, processing_time_ms, error_message, metadata, "
      "twilio_message_sid, final_status, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
  bind_optional(st, 1, log.user_id);
  st.bind(2, log.phone_number);
  st.bind(3, log.direction);
  st.bind(4, static_cast<std::int64_t>(log.content.size()));
  st.bind(5, log.content);
  st.bind(6, log.success ? 1 : 0);
  bind_optional(st, 7, log.processing_time_ms);
  if (log.error_message.empty()) st.bind(8);
  else st.bind(8, log.error_message);
  st.bind(9, log.metadata_json);
  if (log.twilio_message_sid.empty()) st.bind(10);
  else st.bind(10, log.twilio_message_sid);
  st.bind(11, log.final_status);
  st.bind(12, static_cast<std::int64_t>(log.created_ms ? log.created_ms : now_));
  st.exec();
  return conn_.db().getLastInsertRowid();
}

bool WriteTxn::is_opted_out(const std::string& phone) {
  auto& st = conn_.prepare("SELECT 1 FROM opt_outs WHERE phone_number = ?");
  st.bind(1, phone);
  return st.executeStep();
}

void WriteTxn::set_opted_out(const std::string& phone, bool opted_out) {
  if (opted_out) {
    auto& st = conn_.prepare(
        "INSERT INTO opt_outs (phone_number, opted_out_ms) VALUES (?, ?) "
        "ON CONFLICT (phone_number) DO NOTHING");
    st.bind(1, phone);
    st.bind(2, static_cast<std::int64_t>(now_));
    st.exec();
  } else {
    auto& st = conn_.prepare("DELETE FROM opt_outs WHERE phone_number = ?");
    st.bind(1, phone);
    st.exec();
  }
}

std::int64_t WriteTxn::queue_outbound(const OutboundRecord& r) {
  auto& st = conn_.prepare(
      "INSERT INTO outbound_messages (inbound_id, user_id, to_number, from_number, body, part, "
      "parts, usage_log_id, state, created_ms, updated_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
  bind_optional(st, 1, r.inbound_id);
  bind_optional(st, 2, r.user_id);
  st.bind(3, r.to_number);
  st.bind(4, r.from_number);
  st.bind(5, r.body);
  st.bind(6, r.part);
  st.bind(7, r.parts);
  bind_optional(st, 8, r.usage_log_id);
  st.bind(9, std::string(to_text(r.state)));
  st.bind(10, static_cast<std::int64_t>(now_));
  st.bind(11, static_cast<std::int64_t>(now_));
  st.exec();
  return conn_.db().getLastInsertRowid();
}

void WriteTxn::mark_outbound_sending(std::int64_t id) {
  auto& st = conn_.prepare(
      "UPDATE outbound_messages SET state = 'sending', attempts = attempts + 1, updated_ms = ? "
      "WHERE id = ?");
  st.bind(1, static_cast<std::int64_t>(now_));
  st.bind(2, id);
  st.exec();
}

void WriteTxn::mark_outbound_sent(std::int64_t id, const std::string& twilio_sid, const std::string& status) {
  auto& st = conn_.prepare(
      "UPDATE outbound_messages SET state = 'sent', twilio_sid = ?, delivery_status = ?, "
      "last_error = NULL, updated_ms = ? WHERE id = ?");
  st.bind(1, twilio_sid);
  st.bind(2, status);
  st.bind(3, static_cast<std::int64_t>(now_));
  st.bind(4, id);
  st.exec();
  auto& log = conn_.prepare(
      "UPDATE usage_logs SET twilio_message_sid = ? "
      "WHERE id = (SELECT usage_log_id FROM outbound_messages WHERE id = ?)");
  log.bind(1, twilio_sid);
  log.bind(2, id);
  log.exec();
}

void WriteTxn::mark_outbound_retry(std::int64_t id, const std::string& error) {
  auto& st = conn_.prepare(
      "UPDATE outbound_messages SET state = 'queued', last_error = ?, updated_ms = ? WHERE id = ?");
  st.bind(1, error);
  st.bind(2, static_cast<std::int64_t>(now_));
  st.bind(3, id);
  st.exec();
}

void WriteTxn::mark_outbound_failed(std::int64_t id, const std::string& error, int error_code) {
  auto& st = conn_.prepare(
      "UPDATE outbound_messages SET state = 'failed', last_error = ?, error_code = ?, updated_ms = ? "
      "WHERE id = ?");
  st.bind(1, error);
  bind_error_code(st, 2, error_code);
  st.bind(3, static_cast<std::int64_t>(now_));
  st.bind(4, id);
  st.exec();
  auto& log = conn_.prepare(
      "UPDATE usage_logs SET success = 0, error_message = ?, final_status = 'failed' "
      "WHERE id = (SELECT usage_log_id FROM outbound_messages WHERE id = ?)");
  log.bind(1, error);
  log.bind(2, id);
  log.exec();
}

std::optional<OutboundRecord> WriteTxn::find_outbound_by_sid(const std::string& twilio_sid) {
  auto& st = conn_.prepare(std::string("SELECT ") + kOutboundColumns +
                           " FROM outbound_messages WHERE twilio_sid = ?");
  st.bind(1, twilio_sid);
  if (!st.executeStep()) return std::nullopt;
  return read_outbound(st);
}

void WriteTxn::set_delivery_status(std::int64_t id, const std::string& status,
                                   const std::string& final_status, int error_code) {
  auto& st = conn_.prepare(
      "UPDATE outbound_messages SET delivery_status = ?, error_code = coalesce(?, error_code), "
      "updated_ms = ? WHERE id = ?");
  st.bind(1, status);
  bind_error_code(st, 2, error_code);
  st.bind(3, static_cast<std::int64_t>(now_));
  st.bind(4, id);
  st.exec();
  auto& log = conn_.prepare(
      "UPDATE usage_logs SET final_status = ?, success = ? "
      "WHERE id = (SELECT usage_log_id FROM outbound_messages WHERE id = ?)");
  log.bind(1, final_status);
  log.bind(2, final_status == "failed" || final_status == "undelivered" ? 0 : 1);
  log.bind(3, id);
  log.exec();
}

}  // namespace smsr
