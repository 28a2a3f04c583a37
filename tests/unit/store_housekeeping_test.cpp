// The store: pruning of old history, by WriteTxn and by the pruner.
#include <SQLiteCpp/Database.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "app/routing/pruner.hpp"
#include "storage/database.hpp"
#include "tests/unit/store_fixture.hpp"

namespace smsr {
namespace {

using namespace test;

// ---------------------------------------------------------------------------------------
// Pruning old history


constexpr EpochMs kDay = 24 * 60 * 60 * 1000;

struct History {
  std::int64_t old_done, old_pending, old_with_queued_reply, old_with_sent_reply, recent_done;
  std::int64_t queued_reply, sent_reply;
};

// Messages 100 days old and 1 day old, at the clock's times, with replies and usage logs.
History make_history(Fixture& f) {
  History h{};
  f.clock.set(kStart - 100 * kDay);
  h.old_done = insert(f.store, inbound("SM1", "+15145550001", UserId{1}, Outcome::kUnknown, kStart - 100 * kDay));
  h.old_pending = insert(f.store, inbound("SM2", "+15145550001", UserId{1}, Outcome::kRouted, kStart - 100 * kDay));
  h.old_with_queued_reply = insert(f.store, inbound("SM3", "+15145550001", UserId{1}, Outcome::kHelp, kStart - 100 * kDay));
  h.old_with_sent_reply = insert(f.store, inbound("SM4", "+15145550001", UserId{1}, Outcome::kHelp, kStart - 100 * kDay));
  f.store.write([&](WriteTxn& txn) {
    OutboundRecord r;
    r.to_number = "+15145550001";
    r.from_number = "+15005550006";
    r.body = "reply";
    r.inbound_id = h.old_with_queued_reply;
    h.queued_reply = txn.queue_outbound(r);
    r.inbound_id = h.old_with_sent_reply;
    h.sent_reply = txn.queue_outbound(r);
    txn.mark_outbound_sent(h.sent_reply, "SMsent", "sent");
    UsageLog log;
    log.phone_number = "+15145550001";
    log.direction = "inbound";
    log.content = "old";
    txn.insert_usage_log(log);
    txn.insert_user(new_user({"+15145550009"}));  // an old entry in the number-change journal
  });
  f.clock.set(kStart - kDay);
  h.recent_done = insert(f.store, inbound("SM5", "+15145550001", UserId{1}, Outcome::kUnknown, kStart - kDay));
  f.store.write([&](WriteTxn& txn) {
    UsageLog log;
    log.phone_number = "+15145550001";
    log.direction = "inbound";
    log.content = "recent";
    txn.insert_usage_log(log);
  });
  f.clock.set(kStart);
  return h;
}

TEST_CASE("prune_history deletes finished history older than the cutoff and keeps pending work and what refers to it",
          "[store]") {
  Fixture f;
  History h = make_history(f);
  auto n = f.store.write([](WriteTxn& txn) { return txn.prune_history(kStart - 90 * kDay, WriteTxn::UsageLogs::kPrune, 100); });
  CHECK(n.inbound == 2);
  CHECK(n.outbound == 1);
  CHECK(n.usage_logs == 1);
  CHECK(n.phone_changes == 1);

  CHECK_FALSE(f.store.inbound_by_id(h.old_done).has_value());
  CHECK_FALSE(f.store.inbound_by_id(h.old_with_sent_reply).has_value());
  CHECK_FALSE(f.store.outbound_by_id(h.sent_reply).has_value());
  CHECK(f.store.inbound_by_id(h.old_pending).has_value());            // the agent still owes it
  CHECK(f.store.inbound_by_id(h.old_with_queued_reply).has_value());  // its reply is not sent yet
  CHECK(f.store.outbound_by_id(h.queued_reply).has_value());
  CHECK(f.store.inbound_by_id(h.recent_done).has_value());
  auto logs = f.store.usage_logs(std::nullopt, 0, 10);
  REQUIRE(logs.size() == 1);
  CHECK(logs.front().content == "recent");
  CHECK(f.store.resolve("+15145550009").kind == Resolution::Kind::kUser);  // users are never pruned

  // A second pass finds nothing; with sync on (UsageLogs::kKeep) usage logs stay.
  auto again = f.store.write([](WriteTxn& txn) { return txn.prune_history(kStart, WriteTxn::UsageLogs::kKeep, 100); });
  CHECK(again.inbound == 1);  // the recent one, now past a cutoff of "now"
  CHECK(again.usage_logs == 0);
  CHECK(f.store.usage_logs(std::nullopt, 0, 10).size() == 1);
}

TEST_CASE("prune_history deletes at most `limit` rows of each kind per call", "[store]") {
  Fixture f;
  for (int i = 0; i < 5; ++i) {
    insert(f.store, inbound("SM" + std::to_string(i), "+15145550001", std::nullopt, Outcome::kUnknown, kStart - 100 * kDay));
  }
  CHECK(f.store.write([](WriteTxn& txn) { return txn.prune_history(kStart - kDay, WriteTxn::UsageLogs::kPrune, 2); }).inbound == 2);
  CHECK(f.store.write([](WriteTxn& txn) { return txn.prune_history(kStart - kDay, WriteTxn::UsageLogs::kPrune, 2); }).inbound == 2);
  CHECK(f.store.write([](WriteTxn& txn) { return txn.prune_history(kStart - kDay, WriteTxn::UsageLogs::kPrune, 2); }).inbound == 1);
}

TEST_CASE("the pruner applies database.retention_days and keeps everything at 0", "[store]") {
  Fixture f;
  History h = make_history(f);
  Config config;
  config.database.retention_days = 0;
  Settings settings(config);
  Pruner pruner(f.store, settings, f.clock);
  CHECK(pruner.run_once() == 1);  // only the day-old journal entry
  CHECK(f.store.inbound_by_id(h.old_done).has_value());

  config.database.retention_days = 90;
  settings.replace(config);
  CHECK(pruner.run_once() == 4);  // two inbound, one outbound, one usage log (standalone)
  CHECK_FALSE(f.store.inbound_by_id(h.old_done).has_value());
  CHECK(f.store.inbound_by_id(h.recent_done).has_value());
}

}  // namespace
}  // namespace smsr
