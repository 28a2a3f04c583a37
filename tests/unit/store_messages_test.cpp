// The store: inbound messages, the per-sender counts, conversations and pending work.
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
// Inbound messages

TEST_CASE("An inserted inbound message is found by MessageSid with every field", "[store]") {
  Fixture f;
  InboundRecord r = inbound("SMabc", "+15145550001", UserId{7}, Outcome::kRouted, kStart + 5, "hi there");
  r.media_json = R"([{"url":"https://m.test/1","content_type":"image/png"}])";
  r.auto_reply = true;
  r.answer_twiml = "<Response/>";
  const auto id = insert(f.store, r);

  auto found = f.store.write([](WriteTxn& txn) { return txn.find_inbound("SMabc"); });
  REQUIRE(found);
  CHECK(found->id == id);
  CHECK(found->message_sid == "SMabc");
  CHECK(found->account_sid == "AC123");
  CHECK(found->from_number == "+15145550001");
  CHECK(found->to_number == "+15005550006");
  CHECK(found->body == "hi there");
  CHECK(found->media_json == r.media_json);
  CHECK(found->user_id == std::optional<UserId>(7));
  CHECK(found->outcome == Outcome::kRouted);
  CHECK(found->state == InboundState::kPending);
  CHECK(found->auto_reply);
  CHECK(found->answer_twiml == std::optional<std::string>("<Response/>"));
  CHECK_FALSE(found->reply_body);
  CHECK(found->attempts == 0);
  CHECK(found->received_ms == kStart + 5);

  CHECK_FALSE(f.store.write([](WriteTxn& txn) { return txn.find_inbound("SMother"); }));
  auto by_sid = f.store.inbound_by_sid("SMabc");
  REQUIRE(by_sid);
  CHECK(by_sid->id == id);
}

TEST_CASE("Inserting a second message with the same MessageSid is a kConflict and keeps the "
          "first",
          "[store]") {
  Fixture f;
  insert(f.store, inbound("SM1", "+15145550001", std::nullopt, Outcome::kUnknown, kStart, "first"));

  auto err = store_error_of([&] {
    insert(f.store, inbound("SM1", "+15145550002", std::nullopt, Outcome::kUnknown, kStart, "second"));
  });
  REQUIRE(err);
  CHECK(err->kind() == StoreError::Kind::kConflict);

  // In one write, the duplicate undoes that write's earlier insert as well.
  err = store_error_of([&] {
    f.store.write([](WriteTxn& txn) {
      txn.insert_inbound(inbound("SM2", "+15145550003", std::nullopt, Outcome::kUnknown, kStart));
      txn.insert_inbound(inbound("SM1", "+15145550003", std::nullopt, Outcome::kUnknown, kStart));
    });
  });
  REQUIRE(err);
  CHECK(err->kind() == StoreError::Kind::kConflict);
  CHECK_FALSE(f.store.inbound_by_sid("SM2"));
  auto first = f.store.inbound_by_sid("SM1");
  REQUIRE(first);
  CHECK(first->body == "first");
}

TEST_CASE("count_routed_since counts only that sender's routed messages from the given "
          "instant on",
          "[store]") {
  Fixture f;
  const std::string a = "+15145550001";
  const std::string b = "+15145550002";
  insert(f.store, inbound("SM1", a, UserId{1}, Outcome::kRouted, 1000));
  insert(f.store, inbound("SM2", a, UserId{1}, Outcome::kRouted, 2000));
  insert(f.store, inbound("SM3", a, UserId{1}, Outcome::kRouted, 3000));
  insert(f.store, inbound("SM4", a, UserId{1}, Outcome::kRateLimited, 3100));
  insert(f.store, inbound("SM5", a, UserId{1}, Outcome::kOptOut, 3200));
  insert(f.store, inbound("SM6", b, UserId{2}, Outcome::kRouted, 3300));

  auto count = [&](const std::string& from, EpochMs since) {
    return f.store.write([&](WriteTxn& txn) { return txn.count_routed_since(from, since, 100); });
  };
  CHECK(count(a, 0) == 3);
  // Counting stops at the limit: callers only ask whether it is reached.
  CHECK(f.store.write([&](WriteTxn& txn) { return txn.count_routed_since(a, 0, 2); }) == 2);
  CHECK(count(a, 2000) == 2);  // the instant itself counts
  CHECK(count(a, 2001) == 1);
  CHECK(count(a, 3001) == 0);
  CHECK(count(b, 0) == 1);
  CHECK(count("+15145559999", 0) == 0);
}

TEST_CASE("count_routed_since forgets rolled-back messages and remembers the last minutes across a reopen",
          "[store]") {
  TempDir dir;
  ManualClock clock{kStart};
  const std::string path = dir.file("router.db");
  const std::string a = "+15145550001";
  auto count = [&](Store& store) {
    return store.write([&](WriteTxn& txn) { return txn.count_routed_since(a, kStart - 60000, 100); });
  };
  {
    Store store(path, clock);
    insert(store, inbound("SM1", a, UserId{1}, Outcome::kRouted, kStart - 200000));  // older than the window kept
    insert(store, inbound("SM2", a, UserId{1}, Outcome::kRouted, kStart - 30000));
    insert(store, inbound("SM3", a, UserId{1}, Outcome::kRouted, kStart - 1000));
    CHECK_THROWS_AS(store.write([&](WriteTxn& txn) {
      txn.insert_inbound(inbound("SM4", a, UserId{1}, Outcome::kRouted, kStart));
      throw DeliberateFailure("rolled back");
    }),
                    DeliberateFailure);
    CHECK(count(store) == 2);
  }
  Store reopened(path, clock);
  CHECK(count(reopened) == 2);
  CHECK(reopened.write([&](WriteTxn& txn) { return txn.count_routed_since(a, kStart - 1000, 100); }) == 1);
}

TEST_CASE("count_auto_replies_since counts only that sender's messages the router answered "
          "itself",
          "[store]") {
  Fixture f;
  const std::string a = "+15145550001";
  auto replied = [](InboundRecord r) {
    r.auto_reply = true;
    return r;
  };
  insert(f.store, replied(inbound("SM1", a, std::nullopt, Outcome::kUnknown, 1000)));
  insert(f.store, inbound("SM2", a, std::nullopt, Outcome::kUnknown, 2000));  // capped: no reply
  insert(f.store, replied(inbound("SM3", a, std::nullopt, Outcome::kUnknown, 3000)));
  insert(f.store, replied(inbound("SM4", "+15145550002", std::nullopt, Outcome::kUnknown, 3000)));
  insert(f.store, inbound("SM5", a, UserId{1}, Outcome::kRouted, 4000));

  auto count = [&](const std::string& from, EpochMs since) {
    return f.store.write([&](WriteTxn& txn) { return txn.count_auto_replies_since(from, since, 100); });
  };
  CHECK(count(a, 0) == 2);
  CHECK(count(a, 1000) == 2);
  CHECK(count(a, 1001) == 1);
  CHECK(count(a, 3001) == 0);
  CHECK(count("+15145550002", 0) == 1);
}

TEST_CASE("history holds only that user's earlier routed messages and replies, oldest first "
          "and limited",
          "[store]") {
  Fixture f;
  const std::string u1 = "+15145550001";
  const std::string u2 = "+15145550002";
  auto finish = [&](std::int64_t id, EpochMs at, std::optional<std::string> reply) {
    f.clock.set(at);
    f.store.write([&](WriteTxn& txn) {
      txn.finish_inbound(id, f.store.inbound_by_id(id)->message_sid, reply ? InboundState::kDone : InboundState::kFailed, reply,
                         reply ? "" : "agent failed");
    });
  };

  auto m1 = insert(f.store, inbound("SM1", u1, UserId{1}, Outcome::kRouted, 1000, "u1 first"));
  finish(m1, 1100, "r1");
  auto m2 = insert(f.store, inbound("SM2", u2, UserId{2}, Outcome::kRouted, 1200, "u2 secret"));
  finish(m2, 1250, "u2 reply");
  insert(f.store, inbound("SM3", u1, UserId{1}, Outcome::kInactive, 1300, "u1 not routed"));
  auto m4 = insert(f.store, inbound("SM4", u1, UserId{1}, Outcome::kRouted, 1400, "u1 second"));
  finish(m4, 1450, std::nullopt);
  auto m5 = insert(f.store, inbound("SM5", u1, UserId{1}, Outcome::kRouted, 1500, "u1 third"));
  finish(m5, 1600, "r3");
  auto m6 = insert(f.store, inbound("SM6", u1, UserId{1}, Outcome::kRouted, 1700, "u1 current"));
  auto m7 = insert(f.store, inbound("SM7", u1, UserId{1}, Outcome::kRouted, 1800, "u1 later"));

  using Entry = std::tuple<std::string, std::string, EpochMs>;
  auto entries = [&](UserId user, std::int64_t before, int limit) {
    std::vector<Entry> out;
    for (const auto& h : f.store.history(user, before, limit)) out.emplace_back(h.direction, h.body, h.at);
    return out;
  };

  CHECK(entries(1, m6, 10) == std::vector<Entry>{{"inbound", "u1 first", 1000},
                                                 {"outbound", "r1", 1100},
                                                 {"inbound", "u1 second", 1400},
                                                 {"inbound", "u1 third", 1500},
                                                 {"outbound", "r3", 1600}});
  // The limit keeps the most recent entries.
  CHECK(entries(1, m6, 2) ==
        std::vector<Entry>{{"inbound", "u1 third", 1500}, {"outbound", "r3", 1600}});
  CHECK(entries(1, m6, 3) == std::vector<Entry>{{"inbound", "u1 second", 1400},
                                                {"inbound", "u1 third", 1500},
                                                {"outbound", "r3", 1600}});
  // Messages at or after before_id are left out.
  CHECK(entries(1, m5, 10) == std::vector<Entry>{{"inbound", "u1 first", 1000},
                                                 {"outbound", "r1", 1100},
                                                 {"inbound", "u1 second", 1400}});
  CHECK(entries(1, m7, 10).back() == Entry{"inbound", "u1 current", 1700});
  CHECK(entries(1, m1, 10).empty());
  CHECK(entries(1, m6, 0).empty());
  // The other user sees only their own conversation.
  CHECK(entries(2, m7 + 1, 10) ==
        std::vector<Entry>{{"inbound", "u2 secret", 1200}, {"outbound", "u2 reply", 1250}});
  CHECK(entries(3, m7 + 1, 10).empty());
}

TEST_CASE("pending_inbound lists the messages still waiting for the agent, in arrival order",
          "[store]") {
  Fixture f;
  auto p1 = insert(f.store, inbound("SM1", "+15145550001", UserId{1}, Outcome::kRouted, 1000));
  insert(f.store, inbound("SM2", "+15145550002", std::nullopt, Outcome::kUnknown, 1001));
  auto p3 = insert(f.store, inbound("SM3", "+15145550003", UserId{3}, Outcome::kRouted, 1002));
  auto p4 = insert(f.store, inbound("SM4", "+15145550001", UserId{1}, Outcome::kRouted, 1003));
  auto p5 = insert(f.store, inbound("SM5", "+15145550004", UserId{4}, Outcome::kRouted, 1004));
  f.store.write([&](WriteTxn& txn) { txn.finish_inbound(p3, "SM3", InboundState::kDone, "ok", ""); });

  std::vector<std::int64_t> ids;
  for (const auto& r : f.store.pending_inbound()) {
    CHECK(r.state == InboundState::kPending);
    ids.push_back(r.id);
  }
  CHECK(ids == std::vector<std::int64_t>{p1, p4, p5});
}

}  // namespace
}  // namespace smsr
