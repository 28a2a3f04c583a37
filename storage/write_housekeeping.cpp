// WriteTxn: pushed marks, pruning of old history, the database id, the health row.
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

WriteTxn::PruneCounts WriteTxn::prune_history(EpochMs before, UsageLogs usage_logs, int limit) {
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
  if (usage_logs == UsageLogs::kPrune) {
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

}  // namespace smsr
