// Store reads: messages, the outbound queue, opt-outs, conversations, usage logs.
#include "storage/store.hpp"

#include "storage/database.hpp"
#include "storage/rows.hpp"
#include "storage/store_internal.hpp"

namespace smsr {

using namespace rows;

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

}  // namespace smsr
