// The store: who owns a number, and the writes that change users and their numbers
// (each journaled for the cache).
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

}  // namespace
}  // namespace smsr
