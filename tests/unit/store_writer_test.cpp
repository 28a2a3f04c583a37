// The store's writer: group commit, write_then and write_async, failures that roll back
// only their own write, and a write-ahead log that starts over under sustained writes.
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
// Writes

TEST_CASE("A write returns its lambda's value once committed", "[store]") {
  Fixture f;
  auto id = f.store.write([](WriteTxn& txn) {
    return txn.insert_inbound(inbound("SM1", "+15145550001", std::nullopt, Outcome::kUnknown, kStart));
  });
  auto got = f.store.inbound_by_id(id);
  REQUIRE(got);
  CHECK(got->message_sid == "SM1");
}

TEST_CASE("write_then calls on_ran once the writer has run the lambda, and the ticket's wait() returns once "
          "readers can see the write",
          "[store]") {
  Fixture f;
  // Hold the writer so that the write shares a batch with a plain one after it.
  WriterHold hold(f.store);
  std::int64_t id = 0;
  std::promise<std::exception_ptr> ran;
  auto ticket = f.store.write_then(
      [&](WriteTxn& txn) {
        id = txn.insert_inbound(inbound("SM1", "+15145550001", std::nullopt, Outcome::kUnknown, kStart));
      },
      [&](std::exception_ptr error) { ran.set_value(error); });
  std::thread plain([&] {
    f.store.write([](WriteTxn& txn) { txn.insert_inbound(inbound("SM2", "+15145550002", std::nullopt, Outcome::kUnknown, kStart)); });
  });
  REQUIRE(eventually([&] { return f.store.queued_writes() == 2; }));
  hold.release();

  CHECK(ran.get_future().get() == nullptr);
  CHECK(id > 0);
  ticket.wait();
  auto stored = f.store.inbound_by_id(id);
  REQUIRE(stored);
  CHECK(stored->message_sid == "SM1");
  plain.join();
  CHECK(f.store.inbound_by_sid("SM2").has_value());
}

TEST_CASE("write_then hands its lambda's exception to on_ran and to the ticket, and nothing of it is stored",
          "[store]") {
  Fixture f;
  std::promise<std::exception_ptr> ran;
  auto ticket = f.store.write_then(insert_then_fail("SM1"), [&](std::exception_ptr error) { ran.set_value(error); });
  check_deliberate_failure(ran.get_future().get());
  CHECK_THROWS_AS(ticket.wait(), DeliberateFailure);
  CHECK_FALSE(f.store.inbound_by_sid("SM1").has_value());
}

TEST_CASE("write_async calls on_done once its write is visible to readers, or with what its lambda threw",
          "[store]") {
  Fixture f;
  std::promise<bool> committed;
  f.store.write_async(
      [](WriteTxn& txn) { txn.insert_inbound(inbound("SM1", "+15145550001", std::nullopt, Outcome::kUnknown, kStart)); },
      [&](std::exception_ptr error) {
        // On the notifier thread: the commit is done, so a reader sees the row. (The store
        // must not be called from here in the service; this reader is the test's check.)
        committed.set_value(error == nullptr && f.store.inbound_by_sid("SM1").has_value());
      });
  CHECK(committed.get_future().get());

  std::promise<std::exception_ptr> failed;
  f.store.write_async(insert_then_fail("SM2"), [&](std::exception_ptr error) { failed.set_value(error); });
  check_deliberate_failure(failed.get_future().get());
  CHECK_FALSE(f.store.inbound_by_sid("SM2").has_value());
}

TEST_CASE("when one write of a batch of write_async writes throws, only it is lost and the others run again",
          "[store]") {
  Fixture f;
  const std::string kSender = "+15145550001";
  // Hold the writer so that the three writes below share one batch.
  WriterHold hold(f.store);
  std::atomic<int> first_runs{0};
  std::promise<std::exception_ptr> first_done, failing_done, last_done;
  f.store.write_async(
      [&](WriteTxn& txn) {
        ++first_runs;
        txn.insert_inbound(inbound("SM1", kSender, UserId{1}, Outcome::kRouted, kStart));
      },
      [&](std::exception_ptr error) { first_done.set_value(error); });
  f.store.write_async(
      [&](WriteTxn& txn) {
        txn.insert_inbound(inbound("SM2", kSender, UserId{1}, Outcome::kRouted, kStart));
        throw DeliberateFailure("no");
      },
      [&](std::exception_ptr error) { failing_done.set_value(error); });
  f.store.write_async(
      [&](WriteTxn& txn) { txn.insert_inbound(inbound("SM3", kSender, UserId{1}, Outcome::kRouted, kStart)); },
      [&](std::exception_ptr error) { last_done.set_value(error); });
  REQUIRE(eventually([&] { return f.store.queued_writes() == 3; }));
  hold.release();

  CHECK(first_done.get_future().get() == nullptr);
  CHECK(last_done.get_future().get() == nullptr);
  auto error = failing_done.get_future().get();
  REQUIRE(error != nullptr);
  CHECK_THROWS_AS(std::rethrow_exception(error), DeliberateFailure);
  CHECK(first_runs == 2);  // once in the batch that was undone, once in the careful run
  CHECK(f.store.inbound_by_sid("SM1").has_value());
  CHECK_FALSE(f.store.inbound_by_sid("SM2").has_value());
  CHECK(f.store.inbound_by_sid("SM3").has_value());
  // The per-sender counts took back what the undone run added.
  CHECK(f.store.write([&](WriteTxn& txn) { return txn.count_routed_since(kSender, kStart - 60000, 100); }) == 2);
}

TEST_CASE("finish_inbound and record_attempt only touch the message named by both id and MessageSid", "[store]") {
  Fixture f;
  auto id = insert(f.store, inbound("SM2", "+15145550001", UserId{1}, Outcome::kRouted, kStart));
  CHECK_FALSE(f.store.write([&](WriteTxn& txn) { return txn.finish_inbound(id, "SM-other", InboundState::kDone, "x", ""); }));
  CHECK_FALSE(f.store.write([&](WriteTxn& txn) { return txn.record_attempt(id, "SM-other", "e"); }));
  CHECK(f.store.inbound_by_id(id)->state == InboundState::kPending);
  CHECK(f.store.write([&](WriteTxn& txn) { return txn.finish_inbound(id, "SM2", InboundState::kDone, "x", ""); }));
  CHECK(f.store.inbound_by_id(id)->state == InboundState::kDone);
}

TEST_CASE("The exception a write's lambda throws reaches the caller as itself", "[store]") {
  // Documented contract: only SQLite errors are translated into StoreError.
  Fixture f;
  CHECK_THROWS_AS(f.store.write([](WriteTxn&) { throw DeliberateFailure("not a storage error"); }),
                  DeliberateFailure);
  CHECK_THROWS_WITH(
      f.store.write([](WriteTxn&) -> int { throw std::invalid_argument("bad argument"); }),
      "bad argument");
}

TEST_CASE("A write whose lambda throws rolls back only its own changes while concurrent "
          "writes commit",
          "[store]") {
  Fixture f;
  std::mutex mu;
  std::set<std::string> heard;
  f.store.set_phone_change_listener([&](const std::vector<std::string>& phones) {
    std::lock_guard lock(mu);
    heard.insert(phones.begin(), phones.end());
  });
  const auto seq = f.store.last_phone_change_seq();

  constexpr int kWriters = 40;
  constexpr int kFailing = 17;
  auto phone_of = [](int i) { return "+1514555" + std::to_string(1000 + i); };

  // The first job holds the writer until every writer thread is about to submit, so most
  // of the writes below share one group commit with the failing one.
  std::latch all_started(kWriters);
  std::thread holder([&] {
    f.store.write([&](WriteTxn& txn) {
      all_started.wait();
      txn.touch_health_row();
    });
  });

  std::vector<std::thread> writers;
  std::vector<int> failed(kWriters, 0);
  std::vector<std::string> errors(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      all_started.count_down();
      try {
        f.store.write([&](WriteTxn& txn) {
          txn.insert_user(new_user({phone_of(i)}));
          txn.insert_inbound(inbound("SM" + std::to_string(i), phone_of(i), std::nullopt,
                                     Outcome::kUnknown, kStart));
          if (i == kFailing) throw DeliberateFailure("writer " + std::to_string(i) + " fails");
        });
      } catch (const std::exception& e) {
        failed[static_cast<std::size_t>(i)] = 1;
        errors[static_cast<std::size_t>(i)] = e.what();
      }
    });
  }
  for (auto& t : writers) t.join();
  holder.join();

  auto journal = journal_after(f.store, seq);
  for (int i = 0; i < kWriters; ++i) {
    CAPTURE(i, errors[static_cast<std::size_t>(i)]);
    const bool should_fail = i == kFailing;
    CHECK(failed[static_cast<std::size_t>(i)] == (should_fail ? 1 : 0));
    CHECK(f.store.resolve(phone_of(i)).kind ==
          (should_fail ? Resolution::Kind::kUnknown : Resolution::Kind::kUser));
    CHECK(f.store.inbound_by_sid("SM" + std::to_string(i)).has_value() == !should_fail);
    CHECK((std::count(journal.begin(), journal.end(), phone_of(i)) == (should_fail ? 0 : 1)));
    std::lock_guard lock(mu);
    CHECK(heard.count(phone_of(i)) == (should_fail ? 0u : 1u));
  }
  CHECK_THAT(errors[kFailing], Catch::Contains("writer 17 fails"));
  CHECK(f.store.list_users().size() == kWriters - 1);
}


// ---------------------------------------------------------------------------------------
// Checkpoints

TEST_CASE("Under writes that never pause, the write-ahead log starts over instead of growing",
          "[store]") {
  TempDir dir;
  ManualClock clock{kStart};
  const std::string path = dir.file("router.db");
  // Small limits (in 4 KiB log pages), so that these writes cross them many times.
  Store store(path, clock, CheckpointPolicy{.copy_after = 32, .restart_after = 128});
  constexpr int kWriters = 4;
  constexpr int kWritesEach = 400;
  const std::string body(8000, 'x');  // two or three log pages per message
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kWritesEach; ++i) {
        const std::string sid = "SM" + std::to_string(w) + "-" + std::to_string(i);
        insert(store, inbound(sid, "+15145550001", std::nullopt, Outcome::kUnknown, kStart, body));
      }
    });
  }
  for (auto& t : writers) t.join();

  // About 13 MB of messages (over 30 MB of log pages) went through the log. The log file
  // never shrinks (it is reused when the log starts over), so its size is the longest the
  // log has been.
  const auto log_bytes = std::filesystem::file_size(path + "-wal");
  INFO("log file: " << log_bytes << " bytes");
  CHECK(log_bytes < 4 * 1024 * 1024);
  CHECK(store.write([](WriteTxn& txn) { return txn.find_inbound("SM3-399"); }));
}

}  // namespace
}  // namespace smsr
