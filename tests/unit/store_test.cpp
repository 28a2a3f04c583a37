#include "app/routing/pruner.hpp"
#include "storage/store.hpp"
#include "tests/unit/manual_clock.hpp"
#include "tests/unit/temp_dir.hpp"

#include <stdlib.h>  // mkdtemp

#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <latch>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "storage/database.hpp"

namespace smsr {
namespace {

using test::ManualClock;
using test::TempDir;

constexpr EpochMs kStart = 1'760'000'000'000;  // an arbitrary instant in 2025

// A temp dir, a clock and a store on a file in that dir.
struct Fixture {
  TempDir dir;
  ManualClock clock{kStart};
  std::string path = dir.file("router.db");
  Store store{path, clock};
};

// Keeps the store's writer busy in a write of its own until release(), so that writes
// queued meanwhile run together in the next batch.
class WriterHold {
 public:
  explicit WriterHold(Store& store)
      : thread_([this, &store] {
          store.write([this](WriteTxn&) {
            running_.count_down();
            release_.wait();
          });
        }) {
    running_.wait();
  }
  ~WriterHold() { release(); }
  void release() {
    if (!thread_.joinable()) return;
    release_.count_down();
    thread_.join();
  }

 private:
  std::latch running_{1};
  std::latch release_{1};
  std::thread thread_;
};

// Polls `condition` until it holds or `limit` passes; whether it held. Tests wait with this,
// never with a bare loop that would hang the suite if the condition never came.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

NewUser new_user(std::vector<std::string> phones, std::optional<UserId> id = std::nullopt,
                 bool active = true) {
  NewUser u;
  u.id = id;
  u.email = "user-" + phones.front() + "@example.org";
  u.full_name = "User " + phones.front();
  u.phones = std::move(phones);
  u.active = active;
  return u;
}

User add_user(Store& store, std::vector<std::string> phones,
              std::optional<UserId> id = std::nullopt, bool active = true) {
  NewUser u = new_user(std::move(phones), id, active);
  return store.write([&](WriteTxn& txn) { return txn.insert_user(u); });
}

// Runs `fn`; returns the StoreError it threw, or nullopt if it threw nothing.
template <class F>
std::optional<StoreError> store_error_of(F&& fn) {
  try {
    fn();
  } catch (const StoreError& e) {
    return e;
  }
  return std::nullopt;
}

// Raw SQL on the file, for states the store's own API refuses to create.
void exec_sql(const std::string& path, const std::string& sql) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE, /*busyTimeoutMs=*/5000);
  db.exec(sql);
}

std::vector<std::string> journal_after(Store& store, std::int64_t seq) {
  std::vector<std::string> out;
  for (auto& [s, phone] : store.phone_changes_after(seq)) out.push_back(phone);
  return out;
}

// The id of the single user a number resolves to, if any.
std::optional<UserId> owner(Store& store, const std::string& phone) {
  Resolution r = store.resolve(phone);
  if (r.kind != Resolution::Kind::kUser || !r.user) return std::nullopt;
  return r.user->id;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

InboundRecord inbound(const std::string& sid, const std::string& from,
                      std::optional<UserId> user, Outcome outcome, EpochMs received,
                      const std::string& body = "hello") {
  InboundRecord r;
  r.message_sid = sid;
  r.account_sid = "AC123";
  r.from_number = from;
  r.to_number = "+15005550006";
  r.body = body;
  r.user_id = user;
  r.outcome = outcome;
  r.state = outcome == Outcome::kRouted ? InboundState::kPending : InboundState::kDone;
  r.received_ms = received;
  return r;
}

std::int64_t insert(Store& store, const InboundRecord& r) {
  return store.write([&](WriteTxn& txn) { return txn.insert_inbound(r); });
}

struct DeliberateFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A write that inserts an unknown sender's message `sid` and then throws DeliberateFailure:
// none of it may be stored.
std::function<void(WriteTxn&)> insert_then_fail(const std::string& sid) {
  return [sid](WriteTxn& txn) {
    txn.insert_inbound(inbound(sid, "+15145550001", std::nullopt, Outcome::kUnknown, kStart));
    throw DeliberateFailure("no");
  };
}

// Checks that `error` carries the DeliberateFailure of insert_then_fail.
void check_deliberate_failure(std::exception_ptr error) {
  REQUIRE(error != nullptr);
  CHECK_THROWS_AS(std::rethrow_exception(error), DeliberateFailure);
}

// ---------------------------------------------------------------------------------------
// Resolution

TEST_CASE("A user's primary number resolves to that user with source primary", "[store]") {
  Fixture f;
  User alice = add_user(f.store, {"+15145550001", "+15145550002"});
  add_user(f.store, {"+15145550003"});

  Resolution r = f.store.resolve("+15145550001");
  CHECK(r.kind == Resolution::Kind::kUser);
  CHECK(r.source == Resolution::Source::kPrimary);
  REQUIRE(r.user);
  CHECK(r.user->id == alice.id);
  CHECK(r.user->phone_number == "+15145550001");
  CHECK(r.user->email == "user-+15145550001@example.org");
  CHECK(r.user->active);
}

TEST_CASE("A mapping number resolves to its user with source mapping", "[store]") {
  Fixture f;
  User alice = add_user(f.store, {"+15145550001", "+15145550002"});
  add_user(f.store, {"+15145550003"});

  Resolution r = f.store.resolve("+15145550002");
  CHECK(r.kind == Resolution::Kind::kUser);
  CHECK(r.source == Resolution::Source::kMapping);
  REQUIRE(r.user);
  CHECK(r.user->id == alice.id);
  CHECK(r.user->phone_number == "+15145550001");
}

TEST_CASE("A number nobody has resolves to unknown", "[store]") {
  Fixture f;
  add_user(f.store, {"+15145550001", "+15145550002"});

  Resolution r = f.store.resolve("+15145559999");
  CHECK(r.kind == Resolution::Kind::kUnknown);
  CHECK_FALSE(r.user);
  CHECK(r.claimants.empty());
}

TEST_CASE("An inactive user's number resolves to that user marked inactive", "[store]") {
  Fixture f;
  User bob = add_user(f.store, {"+15145550001", "+15145550002"}, std::nullopt, false);

  for (const char* phone : {"+15145550001", "+15145550002"}) {
    CAPTURE(phone);
    Resolution r = f.store.resolve(phone);
    CHECK(r.kind == Resolution::Kind::kUser);
    REQUIRE(r.user);
    CHECK(r.user->id == bob.id);
    CHECK_FALSE(r.user->active);
  }

  f.store.write([&](WriteTxn& txn) { txn.set_user_active(bob.id, true); });
  Resolution r = f.store.resolve("+15145550001");
  REQUIRE(r.user);
  CHECK(r.user->active);
}

TEST_CASE("A number mapped to two users and nobody's primary is ambiguous and names both",
          "[store]") {
  Fixture f;
  User a = add_user(f.store, {"+15145550001", "+15145550099"});
  User b = add_user(f.store, {"+15145550002"});
  // The store refuses to create the clash itself; central data can contain it.
  exec_sql(f.path, "INSERT INTO phone_mappings (user_id, phone_number, created_ms) VALUES (" +
                       std::to_string(b.id) + ", '+15145550099', 0)");

  Resolution r = f.store.resolve("+15145550099");
  CHECK(r.kind == Resolution::Kind::kAmbiguous);
  CHECK_FALSE(r.user);
  CHECK(r.claimants == std::vector<UserId>{a.id, b.id});

  StoreStats stats = f.store.stats();
  CHECK(stats.ambiguous_numbers == std::vector<std::string>{"+15145550099"});
}

TEST_CASE("A primary number wins over another user's mapping of the same number", "[store]") {
  Fixture f;
  User primary_owner = add_user(f.store, {"+15145550001"});
  User other = add_user(f.store, {"+15145550002"});
  exec_sql(f.path, "INSERT INTO phone_mappings (user_id, phone_number, created_ms) VALUES (" +
                       std::to_string(other.id) + ", '+15145550001', 0)");

  Resolution r = f.store.resolve("+15145550001");
  CHECK(r.kind == Resolution::Kind::kUser);
  CHECK(r.source == Resolution::Source::kPrimary);
  REQUIRE(r.user);
  CHECK(r.user->id == primary_owner.id);
  CHECK(f.store.stats().ambiguous_numbers.empty());
}

TEST_CASE("A number that is two users' primary number is ambiguous", "[store]") {
  // Central numbers typed differently can collide once normalised.
  Fixture f;
  User a = add_user(f.store, {"+15145550001"});
  User b = add_user(f.store, {"+15145550002", "+15145550003"});
  exec_sql(f.path, "UPDATE users SET phone_number = '+15145550001' WHERE id = " +
                       std::to_string(b.id));

  Resolution r = f.store.resolve("+15145550001");
  CHECK(r.kind == Resolution::Kind::kAmbiguous);
  CHECK_FALSE(r.user);
  CHECK(r.claimants == std::vector<UserId>{a.id, b.id});
  // b's mapping still reaches b alone.
  CHECK(owner(f.store, "+15145550003") == std::optional<UserId>(b.id));
}

// ---------------------------------------------------------------------------------------
// Users and the journal of changed numbers

TEST_CASE("insert_user refuses a user without numbers or with a number listed twice",
          "[store]") {
  Fixture f;
  NewUser none;
  none.email = "nobody@example.org";
  auto err = store_error_of([&] { f.store.write([&](WriteTxn& txn) { txn.insert_user(none); }); });
  REQUIRE(err);
  CHECK(err->kind() == StoreError::Kind::kInvalid);

  err = store_error_of([&] { add_user(f.store, {"+15145550001", "+15145550002", "+15145550001"}); });
  REQUIRE(err);
  CHECK(err->kind() == StoreError::Kind::kInvalid);
  CHECK(f.store.list_users().empty());
  CHECK(f.store.last_phone_change_seq() == 0);
}

TEST_CASE("insert_user refuses a number another user already has", "[store]") {
  Fixture f;
  User a = add_user(f.store, {"+15145550001", "+15145550002"});

  for (const char* taken : {"+15145550001", "+15145550002"}) {
    CAPTURE(taken);
    auto err = store_error_of([&] { add_user(f.store, {"+15145550003", taken}); });
    REQUIRE(err);
    CHECK(err->kind() == StoreError::Kind::kConflict);
    CHECK_THAT(err->what(), Catch::Contains(taken));
  }
  // Nothing of the refused users was kept.
  CHECK(f.store.resolve("+15145550003").kind == Resolution::Kind::kUnknown);
  CHECK(f.store.list_users().size() == 1);
  CHECK(owner(f.store, "+15145550002") == std::optional<UserId>(a.id));
}

TEST_CASE("insert_user refuses an id that already exists", "[store]") {
  Fixture f;
  add_user(f.store, {"+15145550001"}, UserId{42});

  auto err = store_error_of([&] { add_user(f.store, {"+15145550002"}, UserId{42}); });
  REQUIRE(err);
  CHECK(err->kind() == StoreError::Kind::kConflict);
  CHECK(f.store.resolve("+15145550002").kind == Resolution::Kind::kUnknown);
  auto user = f.store.user(42);
  REQUIRE(user);
  CHECK(user->user.phone_number == "+15145550001");
}

TEST_CASE("add_phone journals the added number in the write and in the store", "[store]") {
  Fixture f;
  User a = add_user(f.store, {"+15145550001"});
  const auto seq = f.store.last_phone_change_seq();

  auto changed = f.store.write([&](WriteTxn& txn) {
    txn.add_phone(a.id, "+15145550002");
    return txn.changed_phones();
  });
  CHECK(changed == std::vector<std::string>{"+15145550002"});
  CHECK(journal_after(f.store, seq) == std::vector<std::string>{"+15145550002"});
  CHECK(f.store.last_phone_change_seq() > seq);
  CHECK(owner(f.store, "+15145550002") == std::optional<UserId>(a.id));
}

TEST_CASE("add_phone refuses a number another user has", "[store]") {
  Fixture f;
  User a = add_user(f.store, {"+15145550001"});
  add_user(f.store, {"+15145550002"});
  const auto seq = f.store.last_phone_change_seq();

  auto err = store_error_of(
      [&] { f.store.write([&](WriteTxn& txn) { txn.add_phone(a.id, "+15145550002"); }); });
  REQUIRE(err);
  CHECK(err->kind() == StoreError::Kind::kConflict);
  CHECK(journal_after(f.store, seq).empty());
}

TEST_CASE("remove_phone journals the removed mapping or primary number", "[store]") {
  Fixture f;
  User a = add_user(f.store, {"+15145550001", "+15145550002"});

  auto seq = f.store.last_phone_change_seq();
  auto changed = f.store.write([&](WriteTxn& txn) {
    txn.remove_phone("+15145550002");
    return txn.changed_phones();
  });
  CHECK(changed == std::vector<std::string>{"+15145550002"});
  CHECK(journal_after(f.store, seq) == std::vector<std::string>{"+15145550002"});
  CHECK(f.store.resolve("+15145550002").kind == Resolution::Kind::kUnknown);

  seq = f.store.last_phone_change_seq();
  changed = f.store.write([&](WriteTxn& txn) {
    txn.remove_phone("+15145550001");
    return txn.changed_phones();
  });
  CHECK(changed == std::vector<std::string>{"+15145550001"});
  CHECK(journal_after(f.store, seq) == std::vector<std::string>{"+15145550001"});
  CHECK(f.store.resolve("+15145550001").kind == Resolution::Kind::kUnknown);
  // The user stays, without a number.
  auto user = f.store.user(a.id);
  REQUIRE(user);
  CHECK(user->user.phone_number.empty());
}

TEST_CASE("remove_phone of a number nobody has is kNotFound and journals nothing", "[store]") {
  Fixture f;
  add_user(f.store, {"+15145550001"});
  const auto seq = f.store.last_phone_change_seq();

  auto err = store_error_of(
      [&] { f.store.write([](WriteTxn& txn) { txn.remove_phone("+15145559999"); }); });
  REQUIRE(err);
  CHECK(err->kind() == StoreError::Kind::kNotFound);
  CHECK(journal_after(f.store, seq).empty());
}

TEST_CASE("delete_user journals every number the user had and frees them", "[store]") {
  Fixture f;
  User a = add_user(f.store, {"+15145550001", "+15145550002", "+15145550003"});
  User b = add_user(f.store, {"+15145550004"});
  const auto seq = f.store.last_phone_change_seq();

  auto changed = f.store.write([&](WriteTxn& txn) {
    txn.delete_user(a.id);
    return txn.changed_phones();
  });
  const std::vector<std::string> expected = {"+15145550001", "+15145550002", "+15145550003"};
  CHECK(sorted(changed) == expected);
  CHECK(sorted(journal_after(f.store, seq)) == expected);
  for (const auto& phone : expected) {
    CHECK(f.store.resolve(phone).kind == Resolution::Kind::kUnknown);
  }
  CHECK_FALSE(f.store.user(a.id));
  CHECK(owner(f.store, "+15145550004") == std::optional<UserId>(b.id));
  // The freed numbers can be given to someone else.
  CHECK_NOTHROW(add_user(f.store, {"+15145550002"}));
}

TEST_CASE("set_user_active journals every number of that user and no other", "[store]") {
  Fixture f;
  User a = add_user(f.store, {"+15145550001", "+15145550002"});
  add_user(f.store, {"+15145550003"});
  const auto seq = f.store.last_phone_change_seq();

  auto changed = f.store.write([&](WriteTxn& txn) {
    txn.set_user_active(a.id, false);
    return txn.changed_phones();
  });
  const std::vector<std::string> expected = {"+15145550001", "+15145550002"};
  CHECK(sorted(changed) == expected);
  CHECK(sorted(journal_after(f.store, seq)) == expected);
  Resolution r = f.store.resolve("+15145550002");
  REQUIRE(r.user);
  CHECK_FALSE(r.user->active);
}

TEST_CASE("set_user_active and delete_user of a missing user are kNotFound", "[store]") {
  Fixture f;
  auto err = store_error_of(
      [&] { f.store.write([](WriteTxn& txn) { txn.set_user_active(999, false); }); });
  REQUIRE(err);
  CHECK(err->kind() == StoreError::Kind::kNotFound);
  err = store_error_of([&] { f.store.write([](WriteTxn& txn) { txn.delete_user(999); }); });
  REQUIRE(err);
  CHECK(err->kind() == StoreError::Kind::kNotFound);
}

TEST_CASE("The phone-change listener receives the changed numbers once their write has "
          "committed",
          "[store]") {
  Fixture f;
  std::mutex mu;
  std::vector<std::vector<std::string>> calls;
  f.store.set_phone_change_listener([&](const std::vector<std::string>& phones) {
    std::lock_guard lock(mu);
    // Committed: a fresh connection already sees the write.
    SQLite::Database db(f.path, SQLite::OPEN_READONLY);
    SQLite::Statement st(db, "SELECT count(*) FROM users");
    st.executeStep();
    calls.push_back(phones);
    calls.back().push_back("users=" + std::to_string(st.getColumn(0).getInt()));
  });

  User a = add_user(f.store, {"+15145550001", "+15145550002"});
  // The listener has run before write() returned.
  {
    std::lock_guard lock(mu);
    REQUIRE(calls.size() == 1);
    CHECK(calls[0] ==
          std::vector<std::string>{"+15145550001", "+15145550002", "users=1"});
  }

  f.store.write([&](WriteTxn& txn) { txn.add_phone(a.id, "+15145550003"); });
  f.store.write([&](WriteTxn& txn) { txn.remove_phone("+15145550002"); });
  f.store.write([&](WriteTxn& txn) { txn.delete_user(a.id); });
  // A write that changes no number does not call the listener.
  f.store.write([&](WriteTxn& txn) { txn.touch_health_row(); });

  std::lock_guard lock(mu);
  REQUIRE(calls.size() == 4);
  CHECK(calls[1] == std::vector<std::string>{"+15145550003", "users=1"});
  CHECK(calls[2] == std::vector<std::string>{"+15145550002", "users=1"});
  CHECK(sorted(calls[3]) ==
        std::vector<std::string>{"+15145550001", "+15145550003", "users=0"});
}

TEST_CASE("A write that throws journals nothing and does not reach the listener", "[store]") {
  Fixture f;
  std::vector<std::string> heard;
  f.store.set_phone_change_listener([&](const std::vector<std::string>& phones) {
    heard.insert(heard.end(), phones.begin(), phones.end());
  });
  User a = add_user(f.store, {"+15145550001"});
  heard.clear();
  const auto seq = f.store.last_phone_change_seq();

  CHECK_THROWS(f.store.write([&](WriteTxn& txn) {
    txn.add_phone(a.id, "+15145550002");
    throw DeliberateFailure("changed my mind");
  }));
  CHECK(heard.empty());
  CHECK(journal_after(f.store, seq).empty());
  CHECK(f.store.resolve("+15145550002").kind == Resolution::Kind::kUnknown);
}

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

// ---------------------------------------------------------------------------------------
// The file

TEST_CASE("Reopening the same file keeps users, numbers and messages", "[store]") {
  TempDir dir;
  ManualClock clock(kStart);
  const std::string path = dir.file("router.db");
  UserId id = 0;
  {
    Store store(path, clock);
    id = add_user(store, {"+15145550001", "+15145550002"}).id;
    insert(store, inbound("SM1", "+15145550001", id, Outcome::kRouted, kStart));
  }
  Store store(path, clock);
  Resolution r = store.resolve("+15145550002");
  REQUIRE(r.user);
  CHECK(r.user->id == id);
  auto msg = store.inbound_by_sid("SM1");
  REQUIRE(msg);
  CHECK(msg->user_id == std::optional<UserId>(id));
  CHECK(store.pending_inbound().size() == 1);
}

TEST_CASE("Migrating an up-to-date database again changes nothing", "[store]") {
  TempDir dir;
  ManualClock clock(kStart);
  const std::string path = dir.file("router.db");
  {
    Connection conn(path, Connection::Mode::kWriter);
    CHECK(migrate_schema(conn) == 0);
    CHECK(migrate_schema(conn) == current_schema_version());
  }
  std::string schema_before;
  {
    Store store(path, clock);
    add_user(store, {"+15145550001"});
  }
  {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    schema_before = db.execAndGet("SELECT group_concat(sql, ';') FROM sqlite_master").getString();
  }
  {
    Connection conn(path, Connection::Mode::kWriter);
    CHECK(migrate_schema(conn) == current_schema_version());
    CHECK(conn.db().execAndGet("PRAGMA user_version").getInt() == current_schema_version());
    CHECK(conn.db().execAndGet("SELECT count(*) FROM users").getInt() == 1);
    CHECK(conn.db().execAndGet("SELECT group_concat(sql, ';') FROM sqlite_master").getString() ==
          schema_before);
  }
  Store store(path, clock);
  CHECK(store.resolve("+15145550001").kind == Resolution::Kind::kUser);
}

TEST_CASE("A version 1 database is upgraded: the sender index gives way to one over auto replies, data kept, "
          "outgoing messages indexed by the message they answer",
          "[store]") {
  TempDir dir;
  ManualClock clock(kStart);
  const std::string path = dir.file("router.db");
  {
    Store store(path, clock);
    insert(store, inbound("SM1", "+15145550001", UserId{1}, Outcome::kRouted, kStart - 1000));
  }
  // Back to what version 1 had.
  exec_sql(path, "DROP INDEX inbound_auto_replies");
  exec_sql(path, "DROP INDEX outbound_inbound");
  exec_sql(path, "CREATE INDEX inbound_sender_time ON inbound_messages(from_number, received_ms)");
  exec_sql(path, "PRAGMA user_version = 1");

  Store store(path, clock);
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  auto has_index = [&](const std::string& name) {
    return db.execAndGet("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '" + name + "'")
               .getInt() == 1;
  };
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == current_schema_version());
  CHECK_FALSE(has_index("inbound_sender_time"));
  CHECK(has_index("inbound_auto_replies"));
  CHECK(has_index("outbound_inbound"));
  CHECK(store.inbound_by_sid("SM1").has_value());
  CHECK(store.write([](WriteTxn& txn) { return txn.count_routed_since("+15145550001", 0, 10); }) == 1);
}

TEST_CASE("A database with a newer schema version than this binary knows is refused as "
          "kCorrupt and left untouched",
          "[store]") {
  TempDir dir;
  ManualClock clock(kStart);
  const std::string path = dir.file("router.db");
  { Store store(path, clock); }
  const int newer = current_schema_version() + 1;
  exec_sql(path, "PRAGMA user_version = " + std::to_string(newer));

  auto err = store_error_of([&] { Store store(path, clock); });
  REQUIRE(err);
  CHECK(err->kind() == StoreError::Kind::kCorrupt);
  CHECK_THAT(err->what(), Catch::Contains(std::to_string(newer)));
  // An operator must be able to tell which file is meant.
  CHECK_THAT(err->what(), Catch::Contains(path));

  SQLite::Database db(path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == newer);
}

TEST_CASE("A file that is not a database is refused with a StoreError naming the path",
          "[store]") {
  TempDir dir;
  ManualClock clock(kStart);
  const std::string path = dir.file("notes.db");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 200; ++i) out << "this is a text file, not an SQLite database\n";
  }
  const auto size_before = std::filesystem::file_size(path);

  auto err = store_error_of([&] { Store store(path, clock); });
  REQUIRE(err);
  CHECK((err->kind() == StoreError::Kind::kCorrupt || err->kind() == StoreError::Kind::kInvalid));
  CHECK_THAT(err->what(), Catch::Contains(path));
  CHECK(std::filesystem::file_size(path) == size_before);
}

TEST_CASE("check_health succeeds on a good store and records the check", "[store]") {
  Fixture f;
  f.clock.set(kStart + 1234);
  CHECK_NOTHROW(f.store.check_health());

  SQLite::Database db(f.path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT value FROM meta WHERE key = 'health_ms'").getString() ==
        std::to_string(kStart + 1234));
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
