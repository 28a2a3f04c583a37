#include "storage/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <future>
#include <set>

#include <SQLiteCpp/Exception.h>

#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "storage/database.hpp"

namespace smsr {
namespace {

// SQLiteCpp binds std::string by copy or reference; these keep call sites short.
void bind_optional(SQLite::Statement& st, int index, const std::optional<std::int64_t>& v) {
  if (v) st.bind(index, static_cast<std::int64_t>(*v));
  else st.bind(index);
}

void bind_optional(SQLite::Statement& st, int index, const std::optional<std::string>& v) {
  if (v) st.bind(index, *v);
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

constexpr const char* kUserColumns = "id, email, full_name, phone_number, is_active";

User read_user(SQLite::Statement& st, int first = 0) {
  User u;
  u.id = st.getColumn(first).getInt64();
  u.email = st.getColumn(first + 1).getString();
  u.full_name = st.getColumn(first + 2).getString();
  u.phone_number = st.getColumn(first + 3).isNull() ? "" : st.getColumn(first + 3).getString();
  u.active = st.getColumn(first + 4).getInt() != 0;
  return u;
}

constexpr const char* kInboundColumns =
    "id, message_sid, account_sid, from_number, to_number, body, media_json, user_id, outcome, "
    "state, auto_reply, answer_twiml, reply_body, attempts, received_ms";

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
  r.outcome = st.getColumn(8).getString();
  r.state = st.getColumn(9).getString();
  r.auto_reply = st.getColumn(10).getInt() != 0;
  r.answer_twiml = optional_text(st.getColumn(11));
  r.reply_body = optional_text(st.getColumn(12));
  r.attempts = st.getColumn(13).getInt();
  r.received_ms = st.getColumn(14).getInt64();
  return r;
}

constexpr const char* kOutboundColumns =
    "id, inbound_id, user_id, to_number, from_number, body, part, parts, usage_log_id, state, "
    "twilio_sid, delivery_status, attempts";

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
  r.state = st.getColumn(9).getString();
  r.twilio_sid = st.getColumn(10).isNull() ? "" : st.getColumn(10).getString();
  r.delivery_status = st.getColumn(11).isNull() ? "" : st.getColumn(11).getString();
  r.attempts = st.getColumn(12).getInt();
  return r;
}

constexpr const char* kUsageLogColumns =
    "id, user_id, phone_number, message_direction, message_content, success, processing_time_ms, "
    "error_message, metadata, twilio_message_sid, final_status, created_ms";

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

}  // namespace

// ======================= WriteTxn =======================

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
  st.bind(8, r.outcome);
  st.bind(9, r.state);
  st.bind(10, r.auto_reply ? 1 : 0);
  bind_optional(st, 11, r.answer_twiml);
  st.bind(12, static_cast<std::int64_t>(r.received_ms));
  st.exec();
  if (r.outcome == "routed") {
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

bool WriteTxn::finish_inbound(std::int64_t inbound_id, const std::string& message_sid, const std::string& state,
                              const std::optional<std::string>& reply, const std::string& error,
                              const std::optional<std::string>& answer_twiml) {
  auto& st = conn_.prepare(
      "UPDATE inbound_messages SET state = ?, reply_body = ?, last_error = ?, done_ms = ?, "
      "answer_twiml = coalesce(?, answer_twiml) WHERE id = ? AND message_sid = ?");
  st.bind(1, state);
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
  st.bind(9, r.state);
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
  if (error_code) st.bind(2, error_code);
  else st.bind(2);
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
  if (error_code) st.bind(2, error_code);
  else st.bind(2);
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

void WriteTxn::replace_user_range(std::int64_t bucket, std::int64_t first_id, std::int64_t count,
                                  const std::vector<SyncedUser>& users, const std::string& digest) {
  const std::int64_t end_id = first_id + count;
  // Every number of the range before and after: their cached owners may all be stale.
  auto& old_numbers = conn_.prepare(
      "SELECT phone_number FROM users WHERE id >= ? AND id < ? AND phone_number IS NOT NULL "
      "UNION SELECT phone_number FROM phone_mappings WHERE user_id >= ? AND user_id < ?");
  old_numbers.bind(1, first_id);
  old_numbers.bind(2, end_id);
  old_numbers.bind(3, first_id);
  old_numbers.bind(4, end_id);
  std::vector<std::string> touched;
  while (old_numbers.executeStep()) touched.push_back(old_numbers.getColumn(0).getString());

  auto& clear_mappings = conn_.prepare("DELETE FROM phone_mappings WHERE user_id >= ? AND user_id < ?");
  clear_mappings.bind(1, first_id);
  clear_mappings.bind(2, end_id);
  clear_mappings.exec();
  auto& clear_users = conn_.prepare("DELETE FROM users WHERE id >= ? AND id < ?");
  clear_users.bind(1, first_id);
  clear_users.bind(2, end_id);
  clear_users.exec();

  auto& insert_user = conn_.prepare(
      "INSERT INTO users (id, email, full_name, phone_number, is_active, created_ms, updated_ms) "
      "VALUES (?,?,?,?,?,?,?)");
  // Central data may list a number twice for one user once normalised: keep one.
  auto& insert_mapping = conn_.prepare(
      "INSERT OR IGNORE INTO phone_mappings (user_id, phone_number, created_ms) VALUES (?,?,?)");
  for (const auto& su : users) {
    insert_user.reset();
    insert_user.bind(1, su.user.id);
    insert_user.bind(2, su.user.email);
    insert_user.bind(3, su.user.full_name);
    if (su.user.phone_number.empty()) insert_user.bind(4);
    else insert_user.bind(4, su.user.phone_number);
    insert_user.bind(5, su.user.active ? 1 : 0);
    insert_user.bind(6, static_cast<std::int64_t>(now_));
    insert_user.bind(7, static_cast<std::int64_t>(now_));
    insert_user.exec();
    if (!su.user.phone_number.empty()) touched.push_back(su.user.phone_number);
    for (const auto& extra : su.extra_phones) {
      if (extra == su.user.phone_number) continue;
      insert_mapping.reset();
      insert_mapping.bind(1, su.user.id);
      insert_mapping.bind(2, extra);
      insert_mapping.bind(3, static_cast<std::int64_t>(now_));
      insert_mapping.exec();
      touched.push_back(extra);
    }
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (const auto& n : touched) note_changed(n);

  if (digest.empty()) {
    auto& forget = conn_.prepare("DELETE FROM sync_buckets WHERE bucket = ?");
    forget.bind(1, bucket);
    forget.exec();
  } else {
    auto& remember = conn_.prepare("INSERT OR REPLACE INTO sync_buckets (bucket, digest) VALUES (?, ?)");
    remember.bind(1, bucket);
    remember.bind(2, digest);
    remember.exec();
  }
}

void WriteTxn::replace_configs(const std::vector<ConfigRow>& rows) {
  conn_.run("DELETE FROM configs");
  auto& st = conn_.prepare(
      "INSERT OR REPLACE INTO configs (config_key, config_value, is_active, updated_ms) VALUES (?,?,?,?)");
  for (const auto& r : rows) {
    st.reset();
    st.bind(1, r.key);
    st.bind(2, r.value);
    st.bind(3, r.active ? 1 : 0);
    st.bind(4, static_cast<std::int64_t>(now_));
    st.exec();
  }
}

void WriteTxn::mark_usage_logs_pushed(std::int64_t last_id) {
  auto& st = conn_.prepare("UPDATE usage_logs SET pushed_ms = ? WHERE pushed_ms IS NULL AND id <= ?");
  st.bind(1, static_cast<std::int64_t>(now_));
  st.bind(2, last_id);
  st.exec();
}

int WriteTxn::prune_pushed_usage_logs(EpochMs before, int limit) {
  auto& st = conn_.prepare(
      "DELETE FROM usage_logs WHERE id IN (SELECT id FROM usage_logs WHERE pushed_ms IS NOT NULL "
      "AND created_ms < ? ORDER BY id LIMIT ?)");
  st.bind(1, static_cast<std::int64_t>(before));
  st.bind(2, limit);
  return st.exec();
}

WriteTxn::PruneCounts WriteTxn::prune_history(EpochMs before, bool usage_logs_too, int limit) {
  PruneCounts n;
  auto run = [&](const char* sql, EpochMs cutoff) {
    auto& st = conn_.prepare(sql);
    st.bind(1, static_cast<std::int64_t>(cutoff));
    st.bind(2, limit);
    return st.exec();
  };
  // Outgoing first: an inbound message cannot go while a row still refers to it.
  n.outbound = run(
      "DELETE FROM outbound_messages WHERE id IN (SELECT id FROM outbound_messages WHERE created_ms < ? "
      "AND state IN ('sent', 'failed') ORDER BY id LIMIT ?)",
      before);
  n.inbound = run(
      "DELETE FROM inbound_messages WHERE id IN (SELECT i.id FROM inbound_messages i WHERE i.received_ms < ? "
      "AND i.state != 'pending' AND NOT EXISTS (SELECT 1 FROM outbound_messages o WHERE o.inbound_id = i.id) "
      "ORDER BY i.id LIMIT ?)",
      before);
  if (usage_logs_too) {
    n.usage_logs = run(
        "DELETE FROM usage_logs WHERE id IN (SELECT id FROM usage_logs WHERE created_ms < ? ORDER BY id LIMIT ?)",
        before);
  }
  // The journal only has to outlive the half-second polls of the processes sharing the file.
  constexpr EpochMs kDayMs = 24 * 60 * 60 * 1000;
  n.phone_changes = run(
      "DELETE FROM phone_changes WHERE seq IN (SELECT seq FROM phone_changes WHERE changed_ms < ? "
      "ORDER BY seq LIMIT ?)",
      now_ - kDayMs);
  return n;
}

std::string WriteTxn::renew_db_epoch() {
  conn_.run("UPDATE meta SET value = lower(hex(randomblob(8))) WHERE key = 'db_epoch'");
  auto& st = conn_.prepare("SELECT value FROM meta WHERE key = 'db_epoch'");
  st.executeStep();
  return st.getColumn(0).getString();
}

void WriteTxn::touch_health_row() {
  auto& st = conn_.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('health_ms', ?)");
  st.bind(1, std::to_string(now_));
  st.exec();
}

void WriteTxn::note_changed(const std::string& e164) {
  auto& st = conn_.prepare("INSERT INTO phone_changes (phone_number, changed_ms) VALUES (?, ?)");
  st.bind(1, e164);
  st.bind(2, static_cast<std::int64_t>(now_));
  st.exec();
  changed_.push_back(e164);
}

std::optional<UserId> WriteTxn::owner_of(const std::string& e164) {
  auto& primary = conn_.prepare("SELECT id FROM users WHERE phone_number = ? ORDER BY id LIMIT 1");
  primary.bind(1, e164);
  if (primary.executeStep()) return primary.getColumn(0).getInt64();
  auto& mapping = conn_.prepare(
      "SELECT user_id FROM phone_mappings WHERE phone_number = ? ORDER BY user_id LIMIT 1");
  mapping.bind(1, e164);
  if (mapping.executeStep()) return mapping.getColumn(0).getInt64();
  return std::nullopt;
}

void WriteTxn::require_unowned(const std::string& e164, std::optional<UserId> except) {
  auto owner = owner_of(e164);
  if (owner && owner != except) {
    throw StoreError(StoreError::Kind::kConflict,
                     "number " + e164 + " already belongs to user " + std::to_string(*owner));
  }
}

std::vector<std::string> WriteTxn::numbers_of(UserId id) {
  std::vector<std::string> out;
  auto& p = conn_.prepare("SELECT phone_number FROM users WHERE id = ? AND phone_number IS NOT NULL");
  p.bind(1, static_cast<std::int64_t>(id));
  if (p.executeStep()) out.push_back(p.getColumn(0).getString());
  auto& m = conn_.prepare("SELECT phone_number FROM phone_mappings WHERE user_id = ?");
  m.bind(1, static_cast<std::int64_t>(id));
  while (m.executeStep()) out.push_back(m.getColumn(0).getString());
  return out;
}

std::optional<User> WriteTxn::find_user(UserId id) {
  auto& st = conn_.prepare(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ?");
  st.bind(1, static_cast<std::int64_t>(id));
  if (!st.executeStep()) return std::nullopt;
  return read_user(st);
}

User WriteTxn::insert_user(const NewUser& nu) {
  if (nu.phones.empty()) {
    throw StoreError(StoreError::Kind::kInvalid, "a user needs at least one phone number");
  }
  if (nu.id && find_user(*nu.id)) {
    throw StoreError(StoreError::Kind::kConflict, "user " + std::to_string(*nu.id) + " already exists");
  }
  std::set<std::string> seen;
  for (const auto& p : nu.phones) {
    if (!seen.insert(p).second) {
      throw StoreError(StoreError::Kind::kInvalid, "number " + p + " is listed twice");
    }
    require_unowned(p, std::nullopt);
  }
  auto& st = conn_.prepare(
      "INSERT INTO users (id, email, full_name, phone_number, is_active, created_ms, updated_ms) "
      "VALUES (?,?,?,?,?,?,?)");
  bind_optional(st, 1, nu.id);
  st.bind(2, nu.email);
  st.bind(3, nu.full_name);
  st.bind(4, nu.phones.front());
  st.bind(5, nu.active ? 1 : 0);
  st.bind(6, static_cast<std::int64_t>(now_));
  st.bind(7, static_cast<std::int64_t>(now_));
  st.exec();
  UserId id = conn_.db().getLastInsertRowid();
  note_changed(nu.phones.front());
  for (std::size_t i = 1; i < nu.phones.size(); ++i) add_phone(id, nu.phones[i]);
  return User{id, nu.email, nu.full_name, nu.phones.front(), nu.active};
}

void WriteTxn::update_user(const NewUser& nu) {
  if (!nu.id || !find_user(*nu.id)) {
    throw StoreError(StoreError::Kind::kNotFound,
                     "no user with id " + (nu.id ? std::to_string(*nu.id) : std::string("?")));
  }
  UserId id = *nu.id;
  auto& st = conn_.prepare(
      "UPDATE users SET email = ?, full_name = ?, is_active = ?, updated_ms = ? WHERE id = ?");
  st.bind(1, nu.email);
  st.bind(2, nu.full_name);
  st.bind(3, nu.active ? 1 : 0);
  st.bind(4, static_cast<std::int64_t>(now_));
  st.bind(5, static_cast<std::int64_t>(id));
  st.exec();
  // The cached answer for every number of this user carries the user's data: drop them all.
  auto before = numbers_of(id);
  if (!nu.phones.empty()) {
    std::set<std::string> seen;
    for (const auto& p : nu.phones) {
      if (!seen.insert(p).second) {
        throw StoreError(StoreError::Kind::kInvalid, "number " + p + " is listed twice");
      }
      require_unowned(p, id);
    }
    auto& clear = conn_.prepare("DELETE FROM phone_mappings WHERE user_id = ?");
    clear.bind(1, static_cast<std::int64_t>(id));
    clear.exec();
    auto& primary = conn_.prepare("UPDATE users SET phone_number = ? WHERE id = ?");
    primary.bind(1, nu.phones.front());
    primary.bind(2, static_cast<std::int64_t>(id));
    primary.exec();
    for (std::size_t i = 1; i < nu.phones.size(); ++i) add_phone(id, nu.phones[i]);
    note_changed(nu.phones.front());
  }
  for (const auto& p : before) note_changed(p);
}

void WriteTxn::set_user_active(UserId id, bool active) {
  auto& st = conn_.prepare("UPDATE users SET is_active = ?, updated_ms = ? WHERE id = ?");
  st.bind(1, active ? 1 : 0);
  st.bind(2, static_cast<std::int64_t>(now_));
  st.bind(3, static_cast<std::int64_t>(id));
  if (st.exec() == 0) {
    throw StoreError(StoreError::Kind::kNotFound, "no user with id " + std::to_string(id));
  }
  for (const auto& p : numbers_of(id)) note_changed(p);
}

void WriteTxn::delete_user(UserId id) {
  auto numbers = numbers_of(id);
  auto& st = conn_.prepare("DELETE FROM users WHERE id = ?");
  st.bind(1, static_cast<std::int64_t>(id));
  if (st.exec() == 0) {
    throw StoreError(StoreError::Kind::kNotFound, "no user with id " + std::to_string(id));
  }
  for (const auto& p : numbers) note_changed(p);
}

void WriteTxn::add_phone(UserId id, const std::string& e164) {
  if (!find_user(id)) {
    throw StoreError(StoreError::Kind::kNotFound, "no user with id " + std::to_string(id));
  }
  require_unowned(e164, std::nullopt);
  auto& st = conn_.prepare(
      "INSERT INTO phone_mappings (user_id, phone_number, created_ms) VALUES (?,?,?)");
  st.bind(1, static_cast<std::int64_t>(id));
  st.bind(2, e164);
  st.bind(3, static_cast<std::int64_t>(now_));
  st.exec();
  note_changed(e164);
}

void WriteTxn::remove_phone(const std::string& e164) {
  auto& m = conn_.prepare("DELETE FROM phone_mappings WHERE phone_number = ?");
  m.bind(1, e164);
  int removed = m.exec();
  auto& p = conn_.prepare("UPDATE users SET phone_number = NULL, updated_ms = ? WHERE phone_number = ?");
  p.bind(1, static_cast<std::int64_t>(now_));
  p.bind(2, e164);
  removed += p.exec();
  if (removed == 0) {
    throw StoreError(StoreError::Kind::kNotFound, "no user has the number " + e164);
  }
  note_changed(e164);
}

// ======================= Store =======================

namespace {

// SQLite's exceptions become StoreError; anything else a write throws reaches its caller
// unchanged (whatever its type, so nothing can escape the writer thread).
std::exception_ptr translate_sqlite_error(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const SQLite::Exception& e) {
    try {
      rethrow_as_store_error(e, "write");
    } catch (...) {
      return std::current_exception();
    }
  } catch (...) {
    return error;
  }
}

// The first column of the first row of `sql`, an integer (a count, a maximum).
std::int64_t single_int(Connection& conn, const std::string& sql) {
  auto& st = conn.prepare(sql);
  st.executeStep();
  return st.getColumn(0).getInt64();
}

}  // namespace

struct Store::Job {
  std::function<void(WriteTxn&)> fn;
  std::function<void(std::exception_ptr)> on_ran;   // write_then only: called once fn has run
  std::function<void(std::exception_ptr)> on_done;  // optional: called once committed or failed
  bool may_run_twice = false;  // write_then and write_async: fn may be run again (see run_batch)
  std::exception_ptr fn_error;                     // what fn threw; set before on_ran
  std::exception_ptr error;                        // fn's error or the batch's; set before `done`
  std::promise<void> done;
  std::shared_future<void> committed;  // `done`, shareable by tickets
  bool ran_signalled = false;          // writer thread only: on_ran's signal is on its way

  bool early() const { return static_cast<bool>(on_ran); }
};

// Borrows a reader connection for the duration of one read.
class Store::ReaderLease {
 public:
  explicit ReaderLease(Store& store) : store_(store), conn_(store.acquire_reader()) {}
  ~ReaderLease() {
    conn_->finish_statements();
    store_.release_reader(std::move(conn_));
  }
  Connection& operator*() { return *conn_; }
  Connection* operator->() { return conn_.get(); }

 private:
  Store& store_;
  std::unique_ptr<Connection> conn_;
};

Store::Store(const std::string& path, const Clock& clock, CheckpointPolicy checkpoints)
    : path_(path), clock_(clock), checkpoints_(checkpoints) {
  try {
    writer_conn_ = std::make_unique<Connection>(path, Connection::Mode::kWriter);
    migrate_schema(*writer_conn_);
    load_sender_window();
    sqlite3_wal_hook(
        writer_conn_->db().getHandle(),
        [](void* store, sqlite3*, const char*, int pages) {
          static_cast<Store*>(store)->log_grew(pages);
          return SQLITE_OK;
        },
        this);
  } catch (const StoreError& e) {
    throw StoreError(e.kind(), path + ": " + e.what());
  } catch (const std::exception& e) {
    rethrow_as_store_error(e, "opening database " + path);
  }
  notifier_ = named_thread("db-notify", [this] { notify_loop(); });
  writer_ = named_thread("db-writer", [this] { writer_loop(); });
  checkpointer_ = named_thread("db-checkpoint", [this] { checkpoint_loop(); });
}

Store::~Store() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  checkpoint_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (checkpointer_.joinable()) checkpointer_.join();
  {
    std::lock_guard lock(notify_mu_);
    notify_stopping_ = true;
  }
  notify_cv_.notify_all();
  if (notifier_.joinable()) notifier_.join();
}

// The routed messages of the last SenderWindow::kSpanMs, newest first by id (arrival order)
// until the first older one: no index needed.
void Store::load_sender_window() {
  const EpochMs cutoff = clock_.now_ms() - SenderWindow::kSpanMs;
  auto& st = writer_conn_->prepare("SELECT from_number, received_ms, outcome FROM inbound_messages ORDER BY id DESC");
  std::vector<std::pair<std::string, EpochMs>> recent;
  while (st.executeStep()) {
    EpochMs at = st.getColumn(1).getInt64();
    if (at < cutoff) break;
    if (st.getColumn(2).getString() == "routed") recent.emplace_back(st.getColumn(0).getString(), at);
  }
  writer_conn_->finish_statements();
  for (auto it = recent.rbegin(); it != recent.rend(); ++it) senders_.add(it->first, it->second);
}

namespace {

// Copies committed pages from the log into the database file (PASSIVE: never blocks the
// writer or readers). Sets `log_pages` to the log's length when the copy began; returns
// whether all of those were copied: not when the writer is finishing a checkpoint
// (SQLITE_BUSY), or when a reader still reads some (and the writer could not copy them
// either).
bool copy_log(Connection& conn, int& log_pages) {
  int copied = 0;
  int rc = sqlite3_wal_checkpoint_v2(conn.db().getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                     &log_pages, &copied);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) throw SQLite::Exception(conn.db().getHandle(), rc);
  return rc == SQLITE_OK && copied == log_pages;
}

}  // namespace

void Store::checkpoint_loop() {
  std::unique_ptr<Connection> conn;
  std::unique_lock lock(queue_mu_);
  for (;;) {
    checkpoint_cv_.wait_for(lock, std::chrono::seconds(1),
                            [&] { return stopping_ || checkpoint_step_ == CheckpointStep::kCopy; });
    const bool stopping = stopping_;
    checkpoint_step_ = CheckpointStep::kCopy;
    lock.unlock();
    bool finish = false;
    try {
      if (!conn) conn = std::make_unique<Connection>(path_, Connection::Mode::kCheckpointer);
      int log_pages = 0;
      bool all_copied = copy_log(*conn, log_pages);
      // The writer's part holds up writes for as long as it copies. So first copy, a few
      // times over, what was committed during the copy before: each pass is shorter, and
      // so is what is left for the writer (measured: a few hundred pages, mostly 2 to 5 ms).
      constexpr int kCatchUpCopies = 4;
      const auto long_log = [&] { return log_pages >= checkpoints_.restart_after; };
      for (int i = 0; i < kCatchUpCopies && all_copied && long_log(); ++i) {
        all_copied = copy_log(*conn, log_pages);
      }
      finish = all_copied && long_log();
    } catch (const std::exception& e) {
      // Not fatal: the WAL grows until the next checkpoint succeeds; writes still work.
      LOG_WARN("store.checkpoint_failed", {"error", e.what()});
      conn.reset();
    }
    if (stopping) return;
    lock.lock();
    checkpoint_step_ = finish ? CheckpointStep::kFinish : CheckpointStep::kNone;
  }
}

void Store::log_grew(int pages) {
  if (pages < log_pages_at_copy_) log_pages_at_copy_ = 0;  // the log started over
  if (pages - log_pages_at_copy_ < checkpoints_.copy_after) return;
  log_pages_at_copy_ = pages;
  {
    std::lock_guard lock(queue_mu_);
    if (checkpoint_step_ != CheckpointStep::kNone) return;
    checkpoint_step_ = CheckpointStep::kCopy;
  }
  checkpoint_cv_.notify_one();
}

// Only the writer appends to the log, so a checkpoint here copies every committed page (that
// no reader still reads), and the next write starts the log over. The checkpointer has
// copied the bulk already.
void Store::finish_checkpoint() {
  {
    std::lock_guard lock(queue_mu_);
    if (checkpoint_step_ != CheckpointStep::kFinish) return;
    checkpoint_step_ = CheckpointStep::kNone;
  }
  int rc = sqlite3_wal_checkpoint_v2(writer_conn_->db().getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                     nullptr, nullptr);
  // SQLITE_BUSY: the checkpointer started again (its timer); the next long log tries again.
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    LOG_WARN("store.checkpoint_failed", {"error", sqlite3_errstr(rc)});
  }
}

void Store::set_phone_change_listener(std::function<void(const std::vector<std::string>&)> fn) {
  on_phone_change_ = std::move(fn);
}

std::shared_ptr<Store::Job> Store::enqueue_job(std::function<void(WriteTxn&)> fn,
                                              std::function<void(std::exception_ptr)> on_ran,
                                              std::function<void(std::exception_ptr)> on_done,
                                              bool may_run_twice) {
  auto job = std::make_shared<Job>();
  job->may_run_twice = may_run_twice;
  job->fn = std::move(fn);
  job->on_ran = std::move(on_ran);
  job->on_done = std::move(on_done);
  job->committed = job->done.get_future().share();
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) {
      throw StoreError(StoreError::Kind::kUnavailable, "the store is shutting down");
    }
    queue_.push_back(job);
  }
  queue_cv_.notify_one();
  return job;
}

void Store::submit(std::function<void(WriteTxn&)> fn) {
  auto job = enqueue_job(std::move(fn));
  job->committed.get();
  if (job->error) std::rethrow_exception(job->error);
}

Store::CommitTicket Store::write_then(std::function<void(WriteTxn&)> fn,
                                      std::function<void(std::exception_ptr)> on_ran,
                                      std::function<void(std::exception_ptr)> on_done) {
  CommitTicket ticket;
  ticket.job_ = enqueue_job(std::move(fn), std::move(on_ran), std::move(on_done), /*may_run_twice=*/true);
  return ticket;
}

void Store::write_async(std::function<void(WriteTxn&)> fn, std::function<void(std::exception_ptr)> on_done) {
  enqueue_job(std::move(fn), nullptr, std::move(on_done), /*may_run_twice=*/true);
}

std::size_t Store::queued_writes() {
  std::lock_guard lock(queue_mu_);
  return queue_.size();
}

void Store::CommitTicket::wait() const {
  job_->committed.get();
  if (job_->error) std::rethrow_exception(job_->error);
}

void Store::writer_loop() {
  std::deque<std::shared_ptr<Job>> batch;
  for (;;) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      batch.swap(queue_);
    }
    run_batch(batch);
    batch.clear();
    finish_checkpoint();
  }
}

void Store::run_batch(std::deque<std::shared_ptr<Job>>& batch) {
  Connection& conn = *writer_conn_;
  std::vector<std::string> changed;
  std::vector<Signal> early_ran;
  std::exception_ptr batch_error;
  auto begin = [&] {
    try {
      conn.run("BEGIN IMMEDIATE");
    } catch (const std::exception& e) {
      try {
        rethrow_as_store_error(e, "starting a write");
      } catch (...) {
        batch_error = std::current_exception();
      }
    }
  };
  begin();
  // Sender-window entries of the jobs that succeeded so far, to take back if the batch fails.
  std::vector<std::pair<std::string, EpochMs>> window_adds;
  auto take_back = [this](const std::vector<std::pair<std::string, EpochMs>>& adds) {
    for (const auto& [sender, at] : adds) senders_.remove(sender, at);
  };
  // A batch of writes that may run twice (write_then, write_async) first runs without a
  // savepoint per write: a savepoint copies every page a write touches. If one of them
  // throws, the batch is undone and run again the careful way, so that only that one fails.
  const bool rerunnable =
      std::all_of(batch.begin(), batch.end(), [](const auto& job) { return job->may_run_twice; });
  bool all_ran = false;
  if (!batch_error && rerunnable) {
    all_ran = true;
    for (auto& job : batch) {
      WriteTxn txn(conn, clock_.now_ms(), senders_);
      try {
        job->fn(txn);
        conn.finish_statements();
      } catch (...) {
        take_back(txn.window_adds());
        conn.finish_statements();
        all_ran = false;
        break;
      }
      changed.insert(changed.end(), txn.changed_phones().begin(), txn.changed_phones().end());
      window_adds.insert(window_adds.end(), txn.window_adds().begin(), txn.window_adds().end());
      if (job->early()) early_ran.push_back({job, Signal::kRan});
    }
    if (!all_ran) {
      try {
        conn.run("ROLLBACK");
      } catch (...) {
        // SQLite already rolled the transaction back (it does so itself on SQLITE_FULL).
      }
      take_back(window_adds);
      window_adds.clear();
      changed.clear();
      early_ran.clear();
      begin();
    }
  }
  if (!batch_error && !all_ran) {
    for (auto& job : batch) {
      WriteTxn txn(conn, clock_.now_ms(), senders_);
      try {
        conn.run("SAVEPOINT job");
        job->fn(txn);
        conn.finish_statements();
        conn.run("RELEASE job");
        changed.insert(changed.end(), txn.changed_phones().begin(), txn.changed_phones().end());
        window_adds.insert(window_adds.end(), txn.window_adds().begin(), txn.window_adds().end());
        if (job->early()) early_ran.push_back({job, Signal::kRan});
      } catch (...) {
        take_back(txn.window_adds());
        job->error = translate_sqlite_error(std::current_exception());
        job->fn_error = job->error;
        if (job->early()) early_ran.push_back({job, Signal::kRan});
        conn.finish_statements();
        try {
          conn.run("ROLLBACK TO job");
          conn.run("RELEASE job");
        } catch (...) {
          // The transaction itself is gone (e.g. SQLITE_FULL rolled it back): fail the batch.
          batch_error = job->error;
          break;
        }
      }
    }
  }
  for (auto& signal : early_ran) signal.job->ran_signalled = true;
  hand_to_notifier(early_ran);  // their callers may proceed while the commit is under way
  if (!batch_error) {
    try {
      conn.run("COMMIT");
      writes_run_.fetch_add(batch.size(), std::memory_order_relaxed);
      commits_.fetch_add(1, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      try {
        rethrow_as_store_error(e, "committing");
      } catch (...) {
        batch_error = std::current_exception();
      }
    }
  }
  if (batch_error) {
    try {
      conn.run("ROLLBACK");
    } catch (...) {
      // SQLite already rolled the transaction back (it does so itself on SQLITE_FULL).
    }
    changed.clear();
    take_back(window_adds);
  }
  if (!changed.empty() && on_phone_change_) on_phone_change_(changed);
  std::vector<Signal> signals;
  signals.reserve(batch.size());
  for (auto& job : batch) {
    if (batch_error && !job->error) job->error = batch_error;
    // An early job whose fn never ran (the batch failed before it) learns it here.
    if (job->early() && !job->ran_signalled) {
      job->fn_error = job->error;
      signals.push_back({job, Signal::kRan});
    }
    signals.push_back({job, Signal::kDone});
  }
  hand_to_notifier(signals);
}

// Waking each waiting caller costs a system call; the notifier thread does that, so the
// writer can start the next batch at once.
void Store::hand_to_notifier(std::vector<Signal>& signals) {
  if (signals.empty()) return;
  {
    std::lock_guard lock(notify_mu_);
    for (auto& s : signals) notify_queue_.push_back(std::move(s));
  }
  signals.clear();
  notify_cv_.notify_one();
}

void Store::notify_loop() {
  std::deque<Signal> signals;
  for (;;) {
    {
      std::unique_lock lock(notify_mu_);
      notify_cv_.wait(lock, [&] { return notify_stopping_ || !notify_queue_.empty(); });
      if (notify_queue_.empty()) return;  // stopping, nothing left
      signals.swap(notify_queue_);
    }
    for (auto& s : signals) {
      try {
        if (s.kind == Signal::kRan) {
          s.job->on_ran(s.job->fn_error);
          continue;
        }
        s.job->done.set_value();
        if (s.job->on_done) s.job->on_done(s.job->error);
      } catch (const std::exception& e) {
        LOG_ERROR("store.callback_failed", {"error", e.what()});
      }
    }
    signals.clear();
  }
}

std::unique_ptr<Connection> Store::acquire_reader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      auto conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return conn;
    }
  }
  try {
    return std::make_unique<Connection>(path_, Connection::Mode::kReader);
  } catch (const std::exception& e) {
    rethrow_as_store_error(e, "opening a read connection to " + path_);
  }
}

void Store::release_reader(std::unique_ptr<Connection> conn) {
  if (!conn) return;
  std::lock_guard lock(readers_mu_);
  idle_readers_.push_back(std::move(conn));
}

template <class F>
auto Store::with_reader(const char* context, F&& fn) -> std::invoke_result_t<F&, Connection&> {
  try {
    ReaderLease conn(*this);
    return fn(*conn);
  } catch (const StoreError&) {
    throw;
  } catch (const std::exception& e) {
    rethrow_as_store_error(e, context);
  }
}

Resolution Store::resolve(const std::string& e164) {
  return with_reader("looking up a number", [&](Connection& conn) {
    Resolution r;
    std::vector<User> owners;
    auto& primary = conn.prepare(std::string("SELECT ") + kUserColumns +
                                  " FROM users WHERE phone_number = ? ORDER BY id");
    primary.bind(1, e164);
    while (primary.executeStep()) owners.push_back(read_user(primary));
    r.source = Resolution::Source::kPrimary;
    if (owners.empty()) {
      // A primary number always wins over mappings; only look at mappings without one.
      auto& mapped = conn.prepare(
          "SELECT DISTINCT u.id, u.email, u.full_name, u.phone_number, u.is_active "
          "FROM phone_mappings m JOIN users u ON u.id = m.user_id WHERE m.phone_number = ? "
          "ORDER BY u.id");
      mapped.bind(1, e164);
      while (mapped.executeStep()) owners.push_back(read_user(mapped));
      r.source = Resolution::Source::kMapping;
    }
    if (owners.empty()) {
      r.kind = Resolution::Kind::kUnknown;
    } else if (owners.size() == 1) {
      r.kind = Resolution::Kind::kUser;
      r.user = owners.front();
    } else {
      r.kind = Resolution::Kind::kAmbiguous;
      for (const auto& u : owners) r.claimants.push_back(u.id);
    }
    return r;
  });
}

std::optional<UserWithPhones> Store::user(UserId id) {
  return with_reader("reading a user", [&](Connection& conn) -> std::optional<UserWithPhones> {
    auto& st = conn.prepare(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ?");
    st.bind(1, static_cast<std::int64_t>(id));
    if (!st.executeStep()) return std::nullopt;
    UserWithPhones out{read_user(st), {}};
    auto& m = conn.prepare(
        "SELECT phone_number FROM phone_mappings WHERE user_id = ? ORDER BY phone_number");
    m.bind(1, static_cast<std::int64_t>(id));
    while (m.executeStep()) out.extra_phones.push_back(m.getColumn(0).getString());
    return out;
  });
}

std::vector<UserWithPhones> Store::list_users() {
  return with_reader("listing users", [&](Connection& conn) {
    std::vector<UserWithPhones> out;
    auto& st = conn.prepare(std::string("SELECT ") + kUserColumns + " FROM users ORDER BY id");
    while (st.executeStep()) out.push_back({read_user(st), {}});
    auto& m = conn.prepare(
        "SELECT user_id, phone_number FROM phone_mappings ORDER BY user_id, phone_number");
    std::size_t i = 0;
    while (m.executeStep()) {
      UserId uid = m.getColumn(0).getInt64();
      while (i < out.size() && out[i].user.id < uid) ++i;
      if (i < out.size() && out[i].user.id == uid) out[i].extra_phones.push_back(m.getColumn(1).getString());
    }
    return out;
  });
}

std::optional<InboundRecord> Store::inbound_by_sid(const std::string& message_sid) {
  return with_reader("reading a message", [&](Connection& conn) -> std::optional<InboundRecord> {
    auto& st = conn.prepare(std::string("SELECT ") + kInboundColumns +
                             " FROM inbound_messages WHERE message_sid = ?");
    st.bind(1, message_sid);
    if (!st.executeStep()) return std::nullopt;
    return read_inbound(st);
  });
}

std::optional<InboundRecord> Store::inbound_by_id(std::int64_t id) {
  return with_reader("reading a message", [&](Connection& conn) -> std::optional<InboundRecord> {
    auto& st = conn.prepare(std::string("SELECT ") + kInboundColumns +
                             " FROM inbound_messages WHERE id = ?");
    st.bind(1, static_cast<std::int64_t>(id));
    if (!st.executeStep()) return std::nullopt;
    return read_inbound(st);
  });
}

std::optional<OutboundRecord> Store::outbound_by_id(std::int64_t id) {
  return with_reader("reading an outgoing message", [&](Connection& conn) -> std::optional<OutboundRecord> {
    auto& st = conn.prepare(std::string("SELECT ") + kOutboundColumns + " FROM outbound_messages WHERE id = ?");
    st.bind(1, id);
    if (!st.executeStep()) return std::nullopt;
    return read_outbound(st);
  });
}

std::vector<OutboundRecord> Store::unsent_outbound() {
  return with_reader("reading outgoing messages", [&](Connection& conn) {
    std::vector<OutboundRecord> out;
    auto& st = conn.prepare(std::string("SELECT ") + kOutboundColumns +
                            " FROM outbound_messages WHERE state IN ('queued', 'sending') ORDER BY id");
    while (st.executeStep()) out.push_back(read_outbound(st));
    return out;
  });
}

bool Store::is_opted_out(const std::string& phone) {
  return with_reader("reading opt-outs", [&](Connection& conn) {
    auto& st = conn.prepare("SELECT 1 FROM opt_outs WHERE phone_number = ?");
    st.bind(1, phone);
    return st.executeStep();
  });
}

std::vector<InboundRecord> Store::pending_inbound() {
  return with_reader("reading pending messages", [&](Connection& conn) {
    std::vector<InboundRecord> out;
    auto& st = conn.prepare(std::string("SELECT ") + kInboundColumns +
                             " FROM inbound_messages WHERE state = 'pending' ORDER BY id");
    while (st.executeStep()) out.push_back(read_inbound(st));
    return out;
  });
}

namespace {

std::vector<HistoryEntry> read_history(Connection& conn, UserId user_id, std::int64_t before_id, int limit) {
  if (limit <= 0) return {};
  // Each earlier routed message gives up to two entries: the text and the agent's reply.
  auto& st = conn.prepare(
      "SELECT body, received_ms, reply_body, done_ms FROM inbound_messages "
      "WHERE user_id = ? AND id < ? AND outcome = 'routed' ORDER BY id DESC LIMIT ?");
  st.bind(1, static_cast<std::int64_t>(user_id));
  st.bind(2, static_cast<std::int64_t>(before_id));
  st.bind(3, limit);
  std::vector<HistoryEntry> newest_first;
  while (st.executeStep() && static_cast<int>(newest_first.size()) < limit) {
    if (!st.getColumn(2).isNull()) {
      newest_first.push_back({"outbound", st.getColumn(2).getString(),
                              st.getColumn(3).isNull() ? st.getColumn(1).getInt64() : st.getColumn(3).getInt64()});
    }
    if (static_cast<int>(newest_first.size()) < limit) {
      newest_first.push_back({"inbound", st.getColumn(0).getString(), st.getColumn(1).getInt64()});
    }
  }
  return std::vector<HistoryEntry>(newest_first.rbegin(), newest_first.rend());
}

}  // namespace

std::vector<HistoryEntry> Store::history(UserId user_id, std::int64_t before_id, int limit) {
  return with_reader("reading history",
                     [&](Connection& conn) { return read_history(conn, user_id, before_id, limit); });
}

std::optional<Store::DeliveryContext> Store::delivery_context(std::int64_t inbound_id, int history_limit) {
  return read_delivery_context(inbound_id, std::nullopt, history_limit);
}

Store::DeliveryContext Store::delivery_context(InboundRecord message, int history_limit) {
  return *read_delivery_context(message.id, std::move(message), history_limit);
}

std::optional<Store::DeliveryContext> Store::read_delivery_context(std::int64_t inbound_id,
                                                                   std::optional<InboundRecord> message,
                                                                   int history_limit) {
  return with_reader("reading a message for delivery", [&](Connection& conn) -> std::optional<DeliveryContext> {
    // One read transaction, so the message, its owner and the history agree.
    conn.run("BEGIN");
    struct EndRead {
      Connection& c;
      ~EndRead() {
        c.finish_statements();
        try {
          c.run("COMMIT");
        } catch (...) {
        }
      }
    } end_read{conn};
    if (!message) {
      auto& m = conn.prepare(std::string("SELECT ") + kInboundColumns + " FROM inbound_messages WHERE id = ?");
      m.bind(1, inbound_id);
      if (!m.executeStep()) return std::nullopt;
      message = read_inbound(m);
    }
    DeliveryContext ctx{std::move(*message), std::nullopt, {}};
    if (ctx.message.user_id) {
      auto& u = conn.prepare(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ?");
      u.bind(1, *ctx.message.user_id);
      if (u.executeStep()) ctx.user = read_user(u);
      ctx.history = read_history(conn, *ctx.message.user_id, ctx.message.id, history_limit);
    }
    return ctx;
  });
}

std::vector<UsageLog> Store::usage_logs(std::optional<UserId> user_id, EpochMs since, int limit) {
  return with_reader("reading usage logs", [&](Connection& conn) {
    std::string sql = std::string("SELECT ") + kUsageLogColumns + " FROM usage_logs WHERE created_ms >= ?";
    if (user_id) sql += " AND user_id = ?";
    sql += " ORDER BY id DESC LIMIT ?";
    auto& st = conn.prepare(sql);
    int i = 1;
    st.bind(i++, static_cast<std::int64_t>(since));
    if (user_id) st.bind(i++, static_cast<std::int64_t>(*user_id));
    st.bind(i, limit);
    std::vector<UsageLog> out;
    while (st.executeStep()) out.push_back(read_usage_log(st));
    return out;
  });
}

std::vector<std::pair<std::int64_t, std::string>> Store::phone_changes_after(std::int64_t after) {
  return with_reader("reading number changes", [&](Connection& conn) {
    std::vector<std::pair<std::int64_t, std::string>> out;
    auto& st = conn.prepare(
        "SELECT seq, phone_number FROM phone_changes WHERE seq > ? ORDER BY seq LIMIT 10000");
    st.bind(1, static_cast<std::int64_t>(after));
    while (st.executeStep()) out.emplace_back(st.getColumn(0).getInt64(), st.getColumn(1).getString());
    return out;
  });
}

std::int64_t Store::read_int(const char* context, const std::string& sql) {
  return with_reader(context, [&](Connection& conn) { return single_int(conn, sql); });
}

std::int64_t Store::last_phone_change_seq() {
  return read_int("reading number changes", "SELECT coalesce(max(seq), 0) FROM phone_changes");
}

Store::OldestPending Store::oldest_pending() {
  return with_reader("reading the oldest pending message", [&](Connection& conn) {
    OldestPending out;
    // ORDER BY id walks the partial indexes of pending and unsent rows.
    auto& in = conn.prepare("SELECT received_ms FROM inbound_messages WHERE state = 'pending' ORDER BY id LIMIT 1");
    if (in.executeStep()) out.inbound_received_ms = in.getColumn(0).getInt64();
    auto& outq = conn.prepare(
        "SELECT created_ms FROM outbound_messages WHERE state IN ('queued', 'sending') ORDER BY id LIMIT 1");
    if (outq.executeStep()) out.outbound_created_ms = outq.getColumn(0).getInt64();
    return out;
  });
}

// A number is ambiguous when two users have it as primary, or when nobody has it as
// primary and two users map it.
constexpr const char* kAmbiguousNumbers =
    "SELECT phone_number FROM users WHERE phone_number IS NOT NULL GROUP BY phone_number "
    "HAVING count(*) > 1 "
    "UNION "
    "SELECT m.phone_number FROM phone_mappings m "
    "WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.phone_number = m.phone_number) "
    "GROUP BY m.phone_number HAVING count(DISTINCT m.user_id) > 1";

std::int64_t Store::count_ambiguous_numbers() {
  return read_int("counting ambiguous numbers", std::string("SELECT count(*) FROM (") + kAmbiguousNumbers + ")");
}

std::int64_t Store::count_unpushed_usage_logs() {
  return read_int("counting unpushed usage logs", "SELECT count(*) FROM usage_logs WHERE pushed_ms IS NULL");
}

StoreStats Store::stats() {
  return with_reader("reading statistics", [&](Connection& conn) {
    StoreStats s;
    auto scalar = [&](const char* sql) { return single_int(conn, sql); };
    s.users = scalar("SELECT count(*) FROM users");
    s.active_users = scalar("SELECT count(*) FROM users WHERE is_active = 1");
    s.mappings = scalar("SELECT count(*) FROM phone_mappings");
    s.pending_inbound = scalar("SELECT count(*) FROM inbound_messages WHERE state = 'pending'");
    s.queued_outbound = scalar("SELECT count(*) FROM outbound_messages WHERE state IN ('queued', 'sending')");
    s.unpushed_usage_logs = scalar("SELECT count(*) FROM usage_logs WHERE pushed_ms IS NULL");
    auto& by = conn.prepare("SELECT outcome, count(*) FROM inbound_messages GROUP BY outcome ORDER BY outcome");
    while (by.executeStep()) s.inbound_by_outcome.emplace_back(by.getColumn(0).getString(), by.getColumn(1).getInt64());
    auto& amb = conn.prepare(std::string(kAmbiguousNumbers) + " ORDER BY 1 LIMIT 1000");
    while (amb.executeStep()) s.ambiguous_numbers.push_back(amb.getColumn(0).getString());
    return s;
  });
}

std::vector<std::pair<std::int64_t, std::string>> Store::sync_buckets() {
  return with_reader("reading sync state", [&](Connection& conn) {
    std::vector<std::pair<std::int64_t, std::string>> out;
    auto& st = conn.prepare("SELECT bucket, digest FROM sync_buckets ORDER BY bucket");
    while (st.executeStep()) out.emplace_back(st.getColumn(0).getInt64(), st.getColumn(1).getString());
    return out;
  });
}

std::vector<ConfigRow> Store::configs() {
  return with_reader("reading central settings", [&](Connection& conn) {
    std::vector<ConfigRow> out;
    auto& st = conn.prepare("SELECT config_key, config_value, is_active FROM configs ORDER BY config_key");
    while (st.executeStep()) {
      out.push_back({st.getColumn(0).getString(), st.getColumn(1).getString(), st.getColumn(2).getInt() != 0});
    }
    return out;
  });
}

std::vector<UsageLog> Store::unpushed_usage_logs(int limit) {
  return with_reader("reading usage logs to push", [&](Connection& conn) {
    std::vector<UsageLog> out;
    auto& st = conn.prepare(
        std::string("SELECT ") + kUsageLogColumns + " FROM usage_logs WHERE pushed_ms IS NULL ORDER BY id LIMIT ?");
    st.bind(1, limit);
    while (st.executeStep()) out.push_back(read_usage_log(st));
    return out;
  });
}

std::string Store::db_epoch() {
  return with_reader("reading the database epoch", [&](Connection& conn) {
    auto& st = conn.prepare("SELECT value FROM meta WHERE key = 'db_epoch'");
    st.executeStep();
    return st.getColumn(0).getString();
  });
}

std::int64_t Store::usage_log_sequence() {
  return read_int("reading the usage log sequence",
                  "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'usage_logs'");
}

void Store::check_health() {
  with_reader("checking the database", [&](Connection& conn) {
    auto& st = conn.prepare("SELECT count(*) FROM meta");
    st.executeStep();
  });
  // A real row, so a full disk or a read-only file shows here and not only under load.
  write([](WriteTxn& txn) { txn.touch_health_row(); });
}

}  // namespace smsr
