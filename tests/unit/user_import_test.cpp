#include "app/routing/user_import.hpp"
#include "tests/unit/temp_dir.hpp"

#include <stdlib.h>  // mkdtemp

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace smsr {
namespace {

using test::TempDir;

class FixedClock : public Clock {
 public:
  EpochMs now_ms() const override { return 1'760'000'000'000; }
  std::chrono::steady_clock::time_point steady() const override {
    return std::chrono::steady_clock::time_point(std::chrono::hours(1));
  }
};

const PhoneNormalizer& us() {
  static const PhoneNormalizer normalizer("US");
  return normalizer;
}

ImportPlan plan(const std::string& csv) { return plan_import(csv, us()); }

// Every problem as "line: reason", for readable failures.
std::string describe(const ImportPlan& p) {
  std::string out;
  for (const auto& problem : p.problems) {
    out += std::to_string(problem.line) + ": " + problem.reason + "\n";
  }
  return out;
}

// The one problem of a plan that must have exactly one.
ImportProblem only_problem(const ImportPlan& p) {
  INFO(describe(p));
  REQUIRE(p.problems.size() == 1);
  return p.problems.front();
}

// A user as one comparable line: id, email, name, active, primary, sorted extra numbers.
std::string summary(const UserWithPhones& u) {
  std::string out = std::to_string(u.user.id) + "|" + u.user.email + "|" + u.user.full_name +
                    "|" + (u.user.active ? "active" : "inactive") + "|" + u.user.phone_number;
  for (const auto& p : u.extra_phones) out += "|" + p;
  return out;
}

std::vector<std::string> snapshot(Store& store) {
  std::vector<std::string> out;
  for (const auto& u : store.list_users()) out.push_back(summary(u));
  return out;
}

ImportResult run_import(Store& store, const std::string& csv) {
  ImportPlan p = plan(csv);
  INFO(describe(p));
  REQUIRE(p.problems.empty());
  return apply_import(store, p.rows, nullptr);
}

struct StoreFixture {
  TempDir dir;
  FixedClock clock;
  Store store{dir.file("router.db"), clock};
};

// ---------------------------------------------------------------------------------------
// plan_import: the header

TEST_CASE("A header with an unknown column is refused, naming the column", "[user_import]") {
  ImportProblem problem = only_problem(plan("phone_number,nickname\n+15145551234,Al\n"));
  CHECK(problem.line == 1);
  CHECK_THAT(problem.reason, Catch::Contains("nickname"));
}

TEST_CASE("Every unknown column of the header is named", "[user_import]") {
  ImportPlan p = plan("phone_number,nickname,Phone\n+15145551234,Al,x\n");
  INFO(describe(p));
  REQUIRE(p.problems.size() == 2);
  CHECK_THAT(p.problems[0].reason, Catch::Contains("\"nickname\""));
  CHECK_THAT(p.problems[1].reason, Catch::Contains("\"Phone\""));
  CHECK(p.rows.empty());
}

TEST_CASE("A header without phone_number is refused", "[user_import]") {
  ImportProblem problem = only_problem(plan("id,email\n1,a@example.org\n"));
  CHECK_THAT(problem.reason, Catch::Contains("phone_number"));
  CHECK(plan("id,email\n1,a@example.org\n").rows.empty());
}

TEST_CASE("A column named twice in the header is refused", "[user_import]") {
  ImportProblem problem =
      only_problem(plan("phone_number,email,Email\n+15145551234,a@example.org,b@example.org\n"));
  CHECK_THAT(problem.reason, Catch::Contains("email"));
  CHECK_THAT(problem.reason, Catch::Contains("twice"));
}

TEST_CASE("An empty file is refused", "[user_import]") {
  ImportPlan p = plan("");
  CHECK(p.rows.empty());
  CHECK(p.problems.size() == 1);
}

TEST_CASE("Header names are matched in any case and with surrounding spaces", "[user_import]") {
  ImportPlan p = plan(
      "Phone_Number, ID ,EMAIL,Full_Name,Is_Active,EXTRA_PHONE_NUMBERS\r\n"
      "+15145551234,7,al@example.org,Al Smith,false,+15145551235\r\n");
  INFO(describe(p));
  REQUIRE(p.problems.empty());
  REQUIRE(p.rows.size() == 1);
  const NewUser& u = p.rows[0].user;
  CHECK(u.id == std::optional<UserId>(7));
  CHECK(u.email == "al@example.org");
  CHECK(u.full_name == "Al Smith");
  CHECK_FALSE(u.active);
  CHECK(u.phones == std::vector<std::string>{"+15145551234", "+15145551235"});
}

TEST_CASE("Only phone_number is required; the other columns default", "[user_import]") {
  ImportPlan p = plan("phone_number\n5145551234\n");
  INFO(describe(p));
  REQUIRE(p.problems.empty());
  REQUIRE(p.rows.size() == 1);
  CHECK(p.rows[0].line == 2);
  CHECK_FALSE(p.rows[0].user.id);
  CHECK(p.rows[0].user.active);
  CHECK(p.rows[0].user.email.empty());
  CHECK(p.rows[0].user.phones == std::vector<std::string>{"+15145551234"});
}

// ---------------------------------------------------------------------------------------
// plan_import: the rows

TEST_CASE("Numbers written in many formats are normalised to E.164", "[user_import]") {
  ImportPlan p = plan(
      "phone_number\n"
      "(514) 555-1234\n"
      "438.829.0590\n"
      "1-416-555-0123\n"
      "+1 (212) 555 0147\n"
      "\"+44 20 7946 0958\"\n"
      "  +33 1 42 68 53 00  \n"
      "2025550173\n");
  INFO(describe(p));
  REQUIRE(p.problems.empty());
  std::vector<std::string> primaries;
  for (const auto& row : p.rows) primaries.push_back(row.user.phones.front());
  CHECK(primaries == std::vector<std::string>{"+15145551234", "+14388290590", "+14165550123",
                                              "+12125550147", "+442079460958", "+33142685300",
                                              "+12025550173"});
}

TEST_CASE("extra_phone_numbers is split on semicolons, trimmed and normalised",
          "[user_import]") {
  ImportPlan p = plan(
      "phone_number,extra_phone_numbers\n"
      "5145551234,\"(438) 829-0590; +44 20 7946 0958 ;;416.555.0123;\"\n"
      "5145551299,\n");
  INFO(describe(p));
  REQUIRE(p.problems.empty());
  REQUIRE(p.rows.size() == 2);
  CHECK(p.rows[0].user.phones == std::vector<std::string>{"+15145551234", "+14388290590",
                                                          "+442079460958", "+14165550123"});
  CHECK(p.rows[1].user.phones == std::vector<std::string>{"+15145551299"});
}

TEST_CASE("is_active accepts true, false, 1, 0 in any case and empty as true", "[user_import]") {
  ImportPlan p = plan(
      "phone_number,is_active\n"
      "5145550101,true\n"
      "5145550102,false\n"
      "5145550103,1\n"
      "5145550104,0\n"
      "5145550105,\n"
      "5145550106,TRUE\n"
      "5145550107, False \n");
  INFO(describe(p));
  REQUIRE(p.problems.empty());
  std::vector<bool> active;
  for (const auto& row : p.rows) active.push_back(row.user.active);
  CHECK(active == std::vector<bool>{true, false, true, false, true, true, false});
}

TEST_CASE("is_active with any other value is a problem naming the value and the line",
          "[user_import]") {
  for (const char* value : {"yes", "no", "2", "active", "t"}) {
    CAPTURE(value);
    ImportProblem problem =
        only_problem(plan(std::string("phone_number,is_active\n5145550101,true\n5145550102,") +
                          value + "\n"));
    CHECK(problem.line == 3);
    CHECK_THAT(problem.reason, Catch::Contains(value));
  }
}

TEST_CASE("An id that is not a positive integer is a problem naming the id", "[user_import]") {
  for (const char* id : {"abc", "0", "-3", "1.5", "12x", "99999999999999999999999"}) {
    CAPTURE(id);
    ImportProblem problem = only_problem(plan(std::string("phone_number,id\n5145550101,") + id + "\n"));
    CHECK(problem.line == 2);
    CHECK_THAT(problem.reason, Catch::Contains(id));
  }
}

TEST_CASE("The same id on two rows is a problem naming the first line", "[user_import]") {
  ImportProblem problem =
      only_problem(plan("phone_number,id\n5145550101,5\n5145550102,6\n5145550103,5\n"));
  CHECK(problem.line == 4);
  CHECK_THAT(problem.reason, Catch::Contains("line 2"));
}

TEST_CASE("A number listed twice in the file, in any format, is a problem naming the other "
          "line",
          "[user_import]") {
  SECTION("as two primary numbers") {
    ImportProblem problem = only_problem(
        plan("phone_number\n+15145551234\n5145550000\n(514) 555-1234\n"));
    CHECK(problem.line == 4);
    CHECK_THAT(problem.reason, Catch::Contains("+15145551234"));
    CHECK_THAT(problem.reason, Catch::Contains("line 2"));
  }
  SECTION("as an extra number of a later row") {
    ImportProblem problem = only_problem(plan(
        "phone_number,extra_phone_numbers\n5145550000,\n+15145551234,\n5145550001,514.555.1234\n"));
    CHECK(problem.line == 4);
    CHECK_THAT(problem.reason, Catch::Contains("line 3"));
  }
}

TEST_CASE("A row with the wrong number of fields is a problem on its line", "[user_import]") {
  ImportPlan p = plan(
      "phone_number,email,full_name\n"
      "5145550101,a@example.org,A\n"
      "5145550102,b@example.org\n"
      "5145550103,c@example.org,C,extra\n"
      "5145550104,d@example.org,D\n");
  INFO(describe(p));
  REQUIRE(p.problems.size() == 2);
  CHECK(p.problems[0].line == 3);
  CHECK(p.problems[1].line == 4);
  REQUIRE(p.rows.size() == 2);
  CHECK(p.rows[0].line == 2);
  CHECK(p.rows[1].line == 5);
}

TEST_CASE("An empty or invalid phone number is a problem on its line", "[user_import]") {
  ImportPlan p = plan("phone_number,email\n,a@example.org\n12,b@example.org\nhello,c@example.org\n");
  INFO(describe(p));
  REQUIRE(p.problems.size() == 3);
  CHECK(p.problems[0].line == 2);
  CHECK(p.problems[1].line == 3);
  CHECK_THAT(p.problems[1].reason, Catch::Contains("12"));
  CHECK(p.problems[2].line == 4);
  CHECK_THAT(p.problems[2].reason, Catch::Contains("hello"));
  CHECK(p.rows.empty());
}

TEST_CASE("Line numbers count the lines of quoted multi-line fields before the bad row",
          "[user_import]") {
  ImportPlan p = plan(
      "phone_number,full_name,email\n"          // line 1
      "5145550101,\"Ann\nof\nGreen Gables\",a@example.org\n"  // lines 2-4
      "5145550102,\"Bob \"\"the\"\"\r\nBuilder\",b@example.org\n"  // lines 5-6
      "5145550103,Cy,c@example.org,surplus\n"  // line 7: bad
      "5145550104,Di,d@example.org\n");         // line 8
  INFO(describe(p));
  ImportProblem problem = only_problem(p);
  CHECK(problem.line == 7);
  REQUIRE(p.rows.size() == 3);
  CHECK(p.rows[0].line == 2);
  CHECK(p.rows[0].user.full_name == "Ann\nof\nGreen Gables");
  CHECK(p.rows[1].line == 5);
  CHECK(p.rows[1].user.full_name == "Bob \"the\"\r\nBuilder");
  CHECK(p.rows[2].line == 8);
}

TEST_CASE("Malformed CSV is one problem for the file", "[user_import]") {
  ImportPlan p = plan("phone_number,full_name\n5145550101,\"unterminated\n");
  CHECK(p.rows.empty());
  CHECK(p.problems.size() == 1);
}

// ---------------------------------------------------------------------------------------
// apply_import

const char* const kThreeUsers =
    "id,phone_number,email,full_name,is_active,extra_phone_numbers\n"
    "10,(514) 555-0101,ann@example.org,Ann,true,438-829-0590\n"
    ",514.555.0102,bob@example.org,Bob,false,\n"
    "30,+1 514 555 0103,cy@example.org,Cy,,\"+44 20 7946 0958;416 555 0123\"\n";

TEST_CASE("Applying an import creates its users with their numbers", "[user_import]") {
  StoreFixture f;
  ImportResult result = run_import(f.store, kThreeUsers);
  CHECK(result.created == 3);
  CHECK(result.updated == 0);
  CHECK(result.unchanged == 0);

  auto ann = f.store.user(10);
  REQUIRE(ann);
  CHECK(summary(*ann) == "10|ann@example.org|Ann|active|+15145550101|+14388290590");
  auto cy = f.store.user(30);
  REQUIRE(cy);
  CHECK(summary(*cy) == "30|cy@example.org|Cy|active|+15145550103|+14165550123|+442079460958");

  Resolution bob = f.store.resolve("+15145550102");
  REQUIRE(bob.kind == Resolution::Kind::kUser);
  CHECK(bob.user->email == "bob@example.org");
  CHECK_FALSE(bob.user->active);
  CHECK(f.store.list_users().size() == 3);
}

TEST_CASE("Applying the same import twice changes nothing the second time", "[user_import]") {
  StoreFixture f;
  run_import(f.store, kThreeUsers);
  const auto users = snapshot(f.store);
  const auto journal = f.store.last_phone_change_seq();

  ImportResult second = run_import(f.store, kThreeUsers);
  CHECK(second.created == 0);
  CHECK(second.updated == 0);
  CHECK(second.unchanged == 3);
  CHECK(snapshot(f.store) == users);
  // Unchanged users do not invalidate anybody's cached numbers.
  CHECK(f.store.last_phone_change_seq() == journal);
}

TEST_CASE("A row with the id of an existing user updates that user", "[user_import]") {
  StoreFixture f;
  run_import(f.store, kThreeUsers);

  ImportResult result = run_import(f.store,
                               "id,phone_number,email,full_name,is_active,extra_phone_numbers\n"
                               "10,514-555-0199,ann.new@example.org,Ann B,false,\n");
  CHECK(result.created == 0);
  CHECK(result.updated == 1);
  auto ann = f.store.user(10);
  REQUIRE(ann);
  CHECK(summary(*ann) == "10|ann.new@example.org|Ann B|inactive|+15145550199");
  // Ann's old numbers are free again; the others are untouched.
  CHECK(f.store.resolve("+15145550101").kind == Resolution::Kind::kUnknown);
  CHECK(f.store.resolve("+14388290590").kind == Resolution::Kind::kUnknown);
  CHECK(f.store.list_users().size() == 3);
}

TEST_CASE("A row without id whose primary number exists updates the user who has it",
          "[user_import]") {
  StoreFixture f;
  run_import(f.store, kThreeUsers);
  const UserId bob_id = f.store.resolve("+15145550102").user->id;

  ImportResult result = run_import(f.store,
                               "phone_number,email,full_name,is_active,extra_phone_numbers\n"
                               "+15145550102,robert@example.org,Robert,true,5145550177\n");
  CHECK(result.created == 0);
  CHECK(result.updated == 1);
  auto bob = f.store.user(bob_id);
  REQUIRE(bob);
  CHECK(summary(*bob) == std::to_string(bob_id) +
                             "|robert@example.org|Robert|active|+15145550102|+15145550177");
  CHECK(f.store.list_users().size() == 3);
}

TEST_CASE("An import with a number owned by another user fails naming the line and changes "
          "nothing",
          "[user_import]") {
  StoreFixture f;
  run_import(f.store, kThreeUsers);
  const auto users = snapshot(f.store);
  const auto journal = f.store.last_phone_change_seq();

  // Line 2 would create a user and line 3 update Cy, but line 4 gives Ann's number
  // (+14388290590, one of user 10's) to a new user 40.
  ImportPlan p = plan(
      "id,phone_number,email,extra_phone_numbers\n"
      ",5145550150,new@example.org,\n"
      "30,5145550103,cy.changed@example.org,\n"
      "40,5145550160,dee@example.org,438 829 0590\n");
  INFO(describe(p));
  REQUIRE(p.problems.empty());

  std::optional<StoreError> error;
  try {
    apply_import(f.store, p.rows, nullptr);
  } catch (const StoreError& e) {
    error = e;
  }
  REQUIRE(error);
  CHECK(error->kind() == StoreError::Kind::kConflict);
  CHECK_THAT(error->what(), Catch::Contains("line 4"));
  CHECK_THAT(error->what(), Catch::Contains("+14388290590"));

  CHECK(snapshot(f.store) == users);
  CHECK(f.store.last_phone_change_seq() == journal);
  CHECK(f.store.resolve("+15145550150").kind == Resolution::Kind::kUnknown);
  CHECK_FALSE(f.store.user(40));
}

TEST_CASE("Progress is reported up to the total number of rows", "[user_import]") {
  StoreFixture f;
  ImportPlan p = plan(kThreeUsers);
  REQUIRE(p.problems.empty());
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  apply_import(f.store, p.rows,
               [&](std::size_t done, std::size_t total) { calls.emplace_back(done, total); });
  REQUIRE_FALSE(calls.empty());
  CHECK(calls.back() == std::pair<std::size_t, std::size_t>{3, 3});
}

}  // namespace
}  // namespace smsr
