// Store reads: the phone-change journal, statistics, and what central sync keeps.
#include "storage/store.hpp"

#include "storage/database.hpp"
#include "storage/rows.hpp"
#include "storage/store_internal.hpp"

namespace smsr {

using namespace rows;

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

}  // namespace smsr
