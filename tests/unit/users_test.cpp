// UserService: the user-editing rules the admin API and the CLI share, on a real store.
#include "app/routing/users.hpp"

#include <catch2/catch.hpp>

#include "app/routing/settings.hpp"
#include "core/clock.hpp"
#include "core/phone.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace smsr;
using smsr::test::TempDir;

namespace {

struct Fixture {
  explicit Fixture(std::string postgres_url = "") : settings(config_with(std::move(postgres_url))) {}

  static Config config_with(std::string postgres_url) {
    Config config;
    config.sync.postgres_url = std::move(postgres_url);
    return config;
  }

  TempDir dir;
  Store store{dir.file("router.db"), system_clock()};
  PhoneNormalizer normalizer{"US"};
  Settings settings;
  UserService users{store, normalizer, settings};
};

NewUser new_user(std::vector<std::string> phones) {
  NewUser user;
  user.email = "someone@example.org";
  user.phones = std::move(phones);
  return user;
}

UserEditError::Kind refusal_of(const std::function<void()>& edit) {
  try {
    edit();
  } catch (const UserEditError& e) {
    return e.kind();
  }
  FAIL("the edit was not refused");
  return UserEditError::Kind::kInvalid;
}

}  // namespace

TEST_CASE("with sync.postgres_url set, every user edit is refused as managed centrally and nothing changes") {
  Fixture standalone;
  const User existing = standalone.users.create(new_user({"+15145550101"}));
  Fixture synced("postgresql://router@127.0.0.1:1/central");
  // The same file, now with sync configured.
  Store& store = standalone.store;
  UserService users(store, standalone.normalizer, synced.settings);

  using Kind = UserEditError::Kind;
  CHECK(refusal_of([&] { users.create(new_user({"+15145550102"})); }) == Kind::kManagedCentrally);
  CHECK(refusal_of([&] { users.update(existing.id, UserChanges{.email = "x@example.org"}); }) ==
        Kind::kManagedCentrally);
  CHECK(refusal_of([&] { users.set_active(existing.id, false); }) == Kind::kManagedCentrally);
  CHECK(refusal_of([&] { users.add_phone(existing.id, "+15145550103"); }) == Kind::kManagedCentrally);
  CHECK(refusal_of([&] { users.remove_phone(existing.id, "+15145550101"); }) == Kind::kManagedCentrally);
  CHECK(refusal_of([&] { users.remove_number("+15145550101"); }) == Kind::kManagedCentrally);
  CHECK(refusal_of([&] { users.remove(existing.id); }) == Kind::kManagedCentrally);

  auto after = store.user(existing.id);
  REQUIRE(after);
  CHECK(after->user.active);
  CHECK(after->user.email == "someone@example.org");
  CHECK(after->extra_phones.empty());
  CHECK(store.list_users().size() == 1);
}

TEST_CASE("a number that is not one is refused, naming the field and the region") {
  Fixture f;
  try {
    f.users.to_e164("not a number", "extra_phone_numbers[1]");
    FAIL("accepted");
  } catch (const UserEditError& e) {
    CHECK(e.kind() == UserEditError::Kind::kInvalid);
    CHECK(std::string(e.what()) ==
          "extra_phone_numbers[1]: \"not a number\" is not a valid phone number for region US; write it as "
          "+<country code><number>");
  }
  CHECK(f.users.to_e164("(514) 555-0101") == "+15145550101");
}

TEST_CASE("removing a number another user also claims is a conflict, and both claims stay") {
  Fixture f;
  // Two users mapping one number, neither as primary: only imported data can look like this.
  f.store.write([&](WriteTxn& txn) {
    SyncedUser a{User{1, "a@example.org", "A", "+15145550101", true}, {"+15145550199"}};
    SyncedUser b{User{2, "b@example.org", "B", "+15145550102", true}, {"+15145550199"}};
    txn.replace_user_range(0, 1, 10, {a, b}, "digest");
  });
  REQUIRE(f.store.resolve("+15145550199").kind == Resolution::Kind::kAmbiguous);

  CHECK(refusal_of([&] { f.users.remove_phone(1, "+15145550199"); }) == UserEditError::Kind::kConflict);
  CHECK(f.store.user(1)->extra_phones == std::vector<std::string>{"+15145550199"});
  CHECK(f.store.user(2)->extra_phones == std::vector<std::string>{"+15145550199"});

  CHECK(refusal_of([&] { f.users.remove_phone(1, "+15145550102"); }) == UserEditError::Kind::kNotFound);
  CHECK(refusal_of([&] { f.users.remove_phone(9, "+15145550101"); }) == UserEditError::Kind::kNotFound);
  f.users.remove_phone(1, "+15145550101");  // its own primary number: fine
  CHECK(f.store.resolve("+15145550101").kind == Resolution::Kind::kUnknown);
}

TEST_CASE("an update changes only the fields it names, and numbers need a primary") {
  Fixture f;
  const User created = f.users.create(new_user({"+15145550101", "+15145550111"}));
  f.users.update(created.id, UserChanges{.full_name = "Ada"});
  auto after = f.store.user(created.id);
  REQUIRE(after);
  CHECK(after->user.full_name == "Ada");
  CHECK(after->user.email == "someone@example.org");
  CHECK(after->user.phone_number == "+15145550101");
  CHECK(after->extra_phones == std::vector<std::string>{"+15145550111"});

  f.users.update(created.id, UserChanges{.extra_phones = std::vector<std::string>{}});
  CHECK(f.store.user(created.id)->extra_phones.empty());
  CHECK(refusal_of([&] { f.users.update(99, UserChanges{.active = false}); }) == UserEditError::Kind::kNotFound);
}
