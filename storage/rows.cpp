#include "storage/rows.hpp"

#include "storage/database.hpp"
#include "storage/errors.hpp"

namespace smsr::rows {
namespace {

// A column holding one of the router's words; text no version of it writes means the file
// is not (or no longer) an sms-router database.
template <class Word>
Word word_column(const SQLite::Column& c, std::optional<Word> (*from_text)(std::string_view), const char* what) {
  const std::string text = c.getString();
  if (auto word = from_text(text)) return *word;
  throw StoreError(StoreError::Kind::kCorrupt, std::string(what) + " \"" + text + "\" is not one the router writes");
}

}  // namespace

void bind_optional(SQLite::Statement& st, int index, const std::optional<std::int64_t>& v) {
  if (v) st.bind(index, static_cast<std::int64_t>(*v));
  else st.bind(index);
}

void bind_optional(SQLite::Statement& st, int index, const std::optional<std::string>& v) {
  if (v) st.bind(index, *v);
  else st.bind(index);
}

void bind_error_code(SQLite::Statement& st, int index, int error_code) {
  if (error_code) st.bind(index, error_code);
  else st.bind(index);
}

std::optional<std::string> optional_text(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getString();
}

std::optional<std::int64_t> optional_int(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}


User read_user(SQLite::Statement& st, int first) {
  User u;
  u.id = st.getColumn(first).getInt64();
  u.email = st.getColumn(first + 1).getString();
  u.full_name = st.getColumn(first + 2).getString();
  u.phone_number = st.getColumn(first + 3).isNull() ? "" : st.getColumn(first + 3).getString();
  u.active = st.getColumn(first + 4).getInt() != 0;
  return u;
}


InboundRecord read_inbound(SQLite::Statement& st) {
  InboundRecord r;
  r.id = st.getColumn(0).getInt64();
  r.message_sid = st.getColumn(1).getString();
  r.account_sid = st.getColumn(2).getString();
  r.from_number = st.getColumn(3).getString();
  r.to_number = st.getColumn(4).getString();
  r.body = st.getColumn(5).getString();
  r.media_json = st.getColumn(6).getString();
  r.user_id = optional_int(st.getColumn(7));
  r.outcome = word_column(st.getColumn(8), outcome_from_text, "inbound_messages.outcome");
  r.state = word_column(st.getColumn(9), inbound_state_from_text, "inbound_messages.state");
  r.auto_reply = st.getColumn(10).getInt() != 0;
  r.answer_twiml = optional_text(st.getColumn(11));
  r.reply_body = optional_text(st.getColumn(12));
  r.attempts = st.getColumn(13).getInt();
  r.received_ms = st.getColumn(14).getInt64();
  return r;
}


OutboundRecord read_outbound(SQLite::Statement& st) {
  OutboundRecord r;
  r.id = st.getColumn(0).getInt64();
  r.inbound_id = optional_int(st.getColumn(1));
  r.user_id = optional_int(st.getColumn(2));
  r.to_number = st.getColumn(3).getString();
  r.from_number = st.getColumn(4).getString();
  r.body = st.getColumn(5).getString();
  r.part = st.getColumn(6).getInt();
  r.parts = st.getColumn(7).getInt();
  r.usage_log_id = optional_int(st.getColumn(8));
  r.state = word_column(st.getColumn(9), outbound_state_from_text, "outbound_messages.state");
  r.twilio_sid = st.getColumn(10).isNull() ? "" : st.getColumn(10).getString();
  r.delivery_status = st.getColumn(11).isNull() ? "" : st.getColumn(11).getString();
  r.attempts = st.getColumn(12).getInt();
  return r;
}


UsageLog read_usage_log(SQLite::Statement& st) {
  UsageLog l;
  l.id = st.getColumn(0).getInt64();
  l.user_id = optional_int(st.getColumn(1));
  l.phone_number = st.getColumn(2).getString();
  l.direction = st.getColumn(3).getString();
  l.content = st.getColumn(4).isNull() ? "" : st.getColumn(4).getString();
  l.success = st.getColumn(5).getInt() != 0;
  l.processing_time_ms = optional_int(st.getColumn(6));
  l.error_message = st.getColumn(7).isNull() ? "" : st.getColumn(7).getString();
  l.metadata_json = st.getColumn(8).getString();
  l.twilio_message_sid = st.getColumn(9).isNull() ? "" : st.getColumn(9).getString();
  l.final_status = st.getColumn(10).getString();
  l.created_ms = st.getColumn(11).getInt64();
  return l;
}

std::int64_t single_int(Connection& conn, const std::string& sql) {
  auto& st = conn.prepare(sql);
  st.executeStep();
  return st.getColumn(0).getInt64();
}

}  // namespace smsr::rows
