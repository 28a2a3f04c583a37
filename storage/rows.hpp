// Row mapping between SQLite statements and the store's records. Internal to storage/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <SQLiteCpp/Column.h>
#include <SQLiteCpp/Statement.h>

#include "storage/store.hpp"

namespace smsr::rows {

// SQLiteCpp binds std::string by copy or reference; these keep call sites short.
void bind_optional(SQLite::Statement& st, int index, const std::optional<std::int64_t>& v);
void bind_optional(SQLite::Statement& st, int index, const std::optional<std::string>& v);
// Twilio's error code, NULL for 0 (no code given).
void bind_error_code(SQLite::Statement& st, int index, int error_code);
std::optional<std::string> optional_text(const SQLite::Column& c);
std::optional<std::int64_t> optional_int(const SQLite::Column& c);

// Each record's columns in the order its reader expects them.
inline constexpr const char* kUserColumns = "id, email, full_name, phone_number, is_active";
inline constexpr const char* kInboundColumns =
    "id, message_sid, account_sid, from_number, to_number, body, media_json, user_id, outcome, "
    "state, auto_reply, answer_twiml, reply_body, attempts, received_ms";
inline constexpr const char* kOutboundColumns =
    "id, inbound_id, user_id, to_number, from_number, body, part, parts, usage_log_id, state, "
    "twilio_sid, delivery_status, attempts";
inline constexpr const char* kUsageLogColumns =
    "id, user_id, phone_number, message_direction, message_content, success, processing_time_ms, "
    "error_message, metadata, twilio_message_sid, final_status, created_ms";

// The record in the current row; kUserColumns may start at column `first`.
User read_user(SQLite::Statement& st, int first = 0);
InboundRecord read_inbound(SQLite::Statement& st);
OutboundRecord read_outbound(SQLite::Statement& st);
UsageLog read_usage_log(SQLite::Statement& st);

// The first column of the first row of `sql`, an integer (a count, a maximum).
std::int64_t single_int(Connection& conn, const std::string& sql);

}  // namespace smsr::rows
