// `sms-router users ...` end to end: the real binary run as a child process against a config
// file and a SQLite file in a temporary directory.
#include <filesystem>
#include <regex>
#include <sstream>
#include <tuple>

#include "tests/integration/cli_fixture.hpp"

using namespace smsr;
using namespace smsr::test;
using nlohmann::json;

// ---------------------------------------------------------------------------------------
// users add / show / list
// ---------------------------------------------------------------------------------------

TEST_CASE("users add stores every number in E.164 whatever format it was typed in") {
  Cli cli;
  auto add = cli.run({"users", "add", "--id", "1", "--phone", "(514) 555-0101", "--phone", "514.555.0102",
                      "--phone", "+1 514 555 0103", "--email", "ada@example.com", "--name", "Ada Lovelace"});
  REQUIRE(add.status == 0);
  CHECK(contains(add.out, "added user 1"));
  CHECK(add.err.empty());

  auto show = cli.run({"users", "show", "1"});
  REQUIRE(show.status == 0);
  CHECK(contains(show.out, "user 1 (active)"));
  CHECK(labelled(show.out, "  primary:") == "+15145550101");
  CHECK(labelled(show.out, "  extra:") == "+15145550102, +15145550103");
  CHECK(labelled(show.out, "  email:") == "ada@example.com");
  CHECK(labelled(show.out, "  name:") == "Ada Lovelace");

  auto list = cli.users_list();
  auto row = line_with(list, {"+15145550101"});
  REQUIRE_FALSE(row.empty());
  CHECK(row.rfind("1 ", 0) == 0);
  CHECK(contains(row, "+15145550102,+15145550103"));
  CHECK(contains(row, "yes"));
  CHECK(contains(row, "ada@example.com"));
  CHECK(contains(row, "Ada Lovelace"));
  CHECK_FALSE(contains(list, "(514)"));
  CHECK_FALSE(contains(list, "514.555"));
}

TEST_CASE("the config option works before and after the users subcommand") {
  Cli cli;
  auto path = cli.config_path();
  auto before = run_cli({"--config", path, "users", "add", "--phone", kAda});
  CHECK(before.status == 0);
  auto after = run_cli({"users", "add", "--config", path, "--phone", kBob});
  CHECK(after.status == 0);
  auto list = run_cli({"users", "list", "--config", path});
  REQUIRE(list.status == 0);
  CHECK(contains(list.out, kAda));
  CHECK(contains(list.out, kBob));
}

TEST_CASE("users add refuses a number another user already owns with one line naming the number and the owner") {
  Cli cli;
  REQUIRE(cli.run({"users", "add", "--id", "1", "--phone", kAda}).status == 0);
  auto before = cli.users_list();

  auto dup = cli.run({"users", "add", "--id", "2", "--phone", kBob, "--phone", "514-555-0101"});
  CHECK(dup.status == 1);
  REQUIRE(lines_of(dup.err).size() == 1);
  CHECK(contains(dup.err, kAda));
  CHECK(contains(dup.err, "user 1"));
  CHECK(dup.out.empty());
  // Nothing of the refused user was stored, not even its first, free number.
  CHECK(cli.users_list() == before);
  CHECK(cli.run({"users", "show", kBob}).status == 1);
}

TEST_CASE("users add rejects an invalid number with status 2 and a line naming the input") {
  Cli cli;
  auto bad = cli.run({"users", "add", "--phone", "12ab-not-a-phone"});
  CHECK(bad.status == 2);
  REQUIRE(lines_of(bad.err).size() == 1);
  CHECK(contains(bad.err, "12ab-not-a-phone"));
  CHECK(lines_of(cli.users_list()).size() == 1);  // the header only
}

TEST_CASE("users add with --inactive creates an inactive user") {
  Cli cli;
  auto add = cli.run({"users", "add", "--id", "7", "--phone", kBob, "--inactive"});
  REQUIRE(add.status == 0);
  CHECK(contains(add.out, "inactive"));
  auto show = cli.run({"users", "show", "7"});
  REQUIRE(show.status == 0);
  CHECK(contains(show.out, "user 7 (inactive)"));
  auto row = line_with(cli.users_list(), {kBob});
  CHECK(contains(row, " no "));
  CHECK_FALSE(contains(row, " yes "));
}

TEST_CASE("users show with a phone number says which user owns it and whether it is the primary or an extra number") {
  Cli cli;
  REQUIRE(cli.run({"users", "add", "--id", "1", "--phone", kAda, "--phone", kAdaSecond}).status == 0);
  REQUIRE(cli.run({"users", "add", "--id", "2", "--phone", kBob}).status == 0);

  auto primary = cli.run({"users", "show", kAda});
  REQUIRE(primary.status == 0);
  CHECK(contains(primary.out, std::string(kAda) + " belongs to user 1 (primary number)"));

  auto extra = cli.run({"users", "show", "(514) 555-0102"});  // national format
  REQUIRE(extra.status == 0);
  CHECK(contains(extra.out, std::string(kAdaSecond) + " belongs to user 1 (extra number)"));

  auto bob = cli.run({"users", "show", kBob});
  REQUIRE(bob.status == 0);
  CHECK(contains(bob.out, std::string(kBob) + " belongs to user 2 (primary number)"));

  auto unknown = cli.run({"users", "show", kStranger});
  CHECK(unknown.status == 1);
  REQUIRE(lines_of(unknown.err).size() == 1);
  CHECK(contains(unknown.err, kStranger));
  CHECK(contains(unknown.err, "not registered"));
  CHECK(unknown.out.empty());

  auto missing = cli.run({"users", "show", "42"});
  CHECK(missing.status == 1);
  REQUIRE(lines_of(missing.err).size() == 1);
  CHECK(contains(missing.err, "no user with id 42"));
}

// ---------------------------------------------------------------------------------------
// users enable / disable / remove / phones
// ---------------------------------------------------------------------------------------

TEST_CASE("users enable and disable and remove change the user and a missing id exits 1 naming it") {
  Cli cli;
  REQUIRE(cli.run({"users", "add", "--id", "1", "--phone", kAda, "--phone", kAdaSecond}).status == 0);

  auto disable = cli.run({"users", "disable", "1"});
  REQUIRE(disable.status == 0);
  CHECK(contains(cli.run({"users", "show", "1"}).out, "user 1 (inactive)"));

  auto enable = cli.run({"users", "enable", "1"});
  REQUIRE(enable.status == 0);
  CHECK(contains(cli.run({"users", "show", "1"}).out, "user 1 (active)"));

  auto remove = cli.run({"users", "remove", "1"});
  REQUIRE(remove.status == 0);
  CHECK(cli.run({"users", "show", "1"}).status == 1);
  CHECK(cli.run({"users", "show", kAda}).status == 1);
  CHECK(cli.run({"users", "show", kAdaSecond}).status == 1);  // the extra number went with its user
  CHECK(lines_of(cli.users_list()).size() == 1);

  for (const char* verb : {"enable", "disable", "remove"}) {
    INFO("users " << verb << " 99");
    auto missing = cli.run({"users", verb, "99"});
    CHECK(missing.status == 1);
    CHECK(lines_of(missing.err).size() == 1);
    CHECK(contains(missing.err, "no user with id 99"));
  }
}

TEST_CASE("users phones add and remove give and take away an extra number") {
  Cli cli;
  REQUIRE(cli.run({"users", "add", "--id", "1", "--phone", kAda}).status == 0);
  REQUIRE(cli.run({"users", "add", "--id", "2", "--phone", kBob}).status == 0);

  auto add = cli.run({"users", "phones", "add", "1", "514 555 0109"});
  REQUIRE(add.status == 0);
  CHECK(contains(add.out, "+15145550109"));
  auto show = cli.run({"users", "show", "+15145550109"});
  REQUIRE(show.status == 0);
  CHECK(contains(show.out, "+15145550109 belongs to user 1 (extra number)"));
  CHECK(contains(line_with(cli.users_list(), {kAda}), "+15145550109"));

  auto taken = cli.run({"users", "phones", "add", "2", "+15145550109"});
  CHECK(taken.status == 1);
  CHECK(lines_of(taken.err).size() == 1);
  CHECK(contains(taken.err, "+15145550109"));
  CHECK(contains(taken.err, "user 1"));

  auto no_user = cli.run({"users", "phones", "add", "99", "+15145550108"});
  CHECK(no_user.status == 1);
  CHECK(contains(no_user.err, "no user with id 99"));
  CHECK(cli.run({"users", "show", "+15145550108"}).status == 1);

  auto remove = cli.run({"users", "phones", "remove", "(514) 555-0109"});
  REQUIRE(remove.status == 0);
  CHECK(cli.run({"users", "show", "+15145550109"}).status == 1);
  CHECK(cli.run({"users", "show", "1"}).status == 0);  // the user keeps its primary number
  CHECK_FALSE(contains(cli.users_list(), "+15145550109"));

  auto unknown = cli.run({"users", "phones", "remove", kStranger});
  CHECK(unknown.status == 1);
  REQUIRE(lines_of(unknown.err).size() == 1);
  CHECK(contains(unknown.err, kStranger));
}

// ---------------------------------------------------------------------------------------
// users import
// ---------------------------------------------------------------------------------------

TEST_CASE("users import creates users from CSV and a second run of the same file changes nothing") {
  Cli cli;
  auto file = cli.csv("users.csv",
                      "id,phone_number,email,full_name,is_active,extra_phone_numbers\n"
                      "10,(514) 555-0110,ann@example.com,Ann,TRUE,+1 514 555 0112; 514-555-0111\n"
                      "11,+15145550120,ben@example.com,Ben,0,\n"
                      ",5145550130,cy@example.com,Cy,,\n");
  auto first = cli.run({"users", "import", file});
  REQUIRE(first.status == 0);
  CHECK(contains(first.out, "3 created, 0 updated, 0 unchanged"));

  auto ann = cli.run({"users", "show", "10"});
  REQUIRE(ann.status == 0);
  CHECK(contains(ann.out, "user 10 (active)"));
  CHECK(labelled(ann.out, "  primary:") == "+15145550110");
  CHECK(labelled(ann.out, "  extra:") == "+15145550111, +15145550112");
  CHECK(labelled(ann.out, "  email:") == "ann@example.com");
  CHECK(labelled(ann.out, "  name:") == "Ann");

  auto ben = cli.run({"users", "show", "11"});
  REQUIRE(ben.status == 0);
  CHECK(contains(ben.out, "user 11 (inactive)"));

  auto cy = cli.run({"users", "show", "+15145550130"});
  REQUIRE(cy.status == 0);
  CHECK(contains(cy.out, "(primary number)"));
  CHECK(contains(cy.out, "(active)"));  // is_active left empty means active
  CHECK(labelled(cy.out, "  email:") == "cy@example.com");

  auto list = cli.users_list();
  CHECK(lines_of(list).size() == 4);

  auto second = cli.run({"users", "import", file});
  REQUIRE(second.status == 0);
  CHECK(contains(second.out, "0 created, 0 updated, 3 unchanged"));
  CHECK(cli.users_list() == list);
}

TEST_CASE("users import updates the existing user named by the id column") {
  Cli cli;
  REQUIRE(cli.run({"users", "add", "--id", "5", "--phone", kAda, "--email", "old@example.com"}).status == 0);
  auto file = cli.csv("update.csv",
                      "id,phone_number,email,full_name,is_active\n"
                      "5,+15145550105,new@example.com,Renamed,false\n");
  auto r = cli.run({"users", "import", file});
  REQUIRE(r.status == 0);
  CHECK(contains(r.out, "0 created, 1 updated, 0 unchanged"));
  auto show = cli.run({"users", "show", "5"});
  CHECK(contains(show.out, "user 5 (inactive)"));
  CHECK(labelled(show.out, "  primary:") == "+15145550105");
  CHECK(labelled(show.out, "  email:") == "new@example.com");
  CHECK(labelled(show.out, "  name:") == "Renamed");
  CHECK(cli.run({"users", "show", kAda}).status == 1);  // the old number is free again
}

TEST_CASE("users import of a file with bad lines reports every problem with FILE:LINE and imports nothing") {
  Cli cli;
  REQUIRE(cli.run({"users", "add", "--id", "1", "--phone", kAda}).status == 0);
  auto before = cli.users_list();

  auto file = cli.csv("bad.csv",
                      "phone_number,email,is_active\n"
                      "+15145550140,ok@example.com,true\n"
                      "not-a-number,x@example.com,true\n"
                      "+15145550141,y@example.com,maybe\n"
                      "(514) 555-0140,z@example.com,true\n"
                      "+15145550142,fine@example.com,1\n");
  auto r = cli.run({"users", "import", file});
  CHECK(r.status == 2);
  CHECK(contains(line_with(r.err, {file + ":3:"}), "not-a-number"));
  CHECK(contains(line_with(r.err, {file + ":4:"}), "maybe"));
  auto dup = line_with(r.err, {file + ":5:"});
  CHECK(contains(dup, "+15145550140"));
  CHECK(contains(dup, "line 2"));
  CHECK(line_with(r.err, {file + ":2:"}).empty());
  CHECK(line_with(r.err, {file + ":6:"}).empty());
  CHECK(contains(r.err, "nothing was imported"));
  CHECK(r.out.empty());
  CHECK(cli.users_list() == before);
  CHECK(cli.run({"users", "show", "+15145550142"}).status == 1);

  auto columns = cli.csv("columns.csv",
                         "phone_number,emial\n"
                         "+15145550150,a@example.com\n");
  auto c = cli.run({"users", "import", columns});
  CHECK(c.status == 2);
  CHECK(contains(line_with(c.err, {columns + ":1:"}), "emial"));
  CHECK(cli.users_list() == before);
}

TEST_CASE("users import that conflicts with an existing user's number exits 2 and imports nothing") {
  Cli cli;
  REQUIRE(cli.run({"users", "add", "--id", "1", "--phone", kAda}).status == 0);
  auto before = cli.users_list();
  auto file = cli.csv("conflict.csv",
                      "id,phone_number,extra_phone_numbers\n"
                      "20,+15145550160,\n"
                      "21,+15145550170,514-555-0101\n");
  auto r = cli.run({"users", "import", file});
  CHECK(r.status == 2);
  CHECK(lines_of(r.err).size() == 1);
  CHECK(contains(r.err, file));
  CHECK(contains(r.err, kAda));
  CHECK(contains(r.err, "user 1"));
  CHECK(contains(r.err, file + ":3: "));  // the conflicting row, in the same FILE:LINE: form as other problems
  CHECK(cli.users_list() == before);
  CHECK(cli.run({"users", "show", "20"}).status == 1);  // the good row before it was rolled back
}

TEST_CASE("users import reads RFC 4180 quoted fields with commas and quotes and embedded newlines") {
  Cli cli;
  auto file = cli.csv("quoted.csv",
                      "\xEF\xBB\xBFid,phone_number,full_name,email\r\n"
                      "30,+15145550180,\"Doe, Jane\nSecond Line\",jane@example.com\r\n"
                      "31,+15145550190,\"He said \"\"hi\"\"\",\"x@example.com\"\r\n");
  auto r = cli.run({"users", "import", file});
  REQUIRE(r.status == 0);
  CHECK(contains(r.out, "2 created"));
  auto jane = cli.run({"users", "show", "30"});
  REQUIRE(jane.status == 0);
  CHECK(contains(jane.out, "Doe, Jane\nSecond Line"));
  CHECK(labelled(jane.out, "  email:") == "jane@example.com");
  CHECK(labelled(jane.out, "  primary:") == "+15145550180");
  auto quoted = cli.run({"users", "show", "31"});
  REQUIRE(quoted.status == 0);
  CHECK(labelled(quoted.out, "  name:") == "He said \"hi\"");
  CHECK(labelled(quoted.out, "  email:") == "x@example.com");

  // Line numbers in errors count the newline inside the quoted field.
  auto bad = cli.csv("quoted-bad.csv",
                     "id,phone_number,full_name\n"
                     "40,+15145550181,\"Two\nlines\"\n"
                     "41,zzz,After\n");
  auto b = cli.run({"users", "import", bad});
  CHECK(b.status == 2);
  CHECK(contains(line_with(b.err, {bad + ":4:"}), "zzz"));
  CHECK(cli.run({"users", "show", "40"}).status == 1);
}

TEST_CASE("with sync.postgres_url set user writes exit 2 explaining that the central database owns users while reads work") {
  Cli cli;
  REQUIRE(cli.run({"users", "add", "--id", "1", "--phone", kAda, "--phone", kAdaSecond}).status == 0);
  auto before = cli.users_list();
  auto csv = cli.csv("users.csv", "phone_number\n+15145550301\n");

  cli.config["sync"]["postgres_url"] = "postgresql://router:central-db-password@127.0.0.1:1/central";
  const std::vector<std::vector<std::string>> writes = {
      {"users", "add", "--phone", "+15145550300"},
      {"users", "import", csv},
      {"users", "enable", "1"},
      {"users", "disable", "1"},
      {"users", "remove", "1"},
      {"users", "phones", "add", "1", "+15145550302"},
      {"users", "phones", "remove", kAdaSecond},
  };
  for (const auto& args : writes) {
    INFO(args[1] << (args.size() > 2 ? " " + args[2] : ""));
    auto r = cli.run(args);
    CHECK(r.status == 2);
    CHECK(lines_of(r.err).size() == 1);
    CHECK(contains(r.err, "central"));
    CHECK(contains(r.err, "sync.postgres_url"));
    CHECK_FALSE(contains(r.err, "central-db-password"));
  }

  auto list = cli.run({"users", "list"});
  CHECK(list.status == 0);
  CHECK(list.out == before);
  auto show = cli.run({"users", "show", "1"});
  CHECK(show.status == 0);
  CHECK(contains(show.out, "user 1 (active)"));
  auto owner = cli.run({"users", "show", kAdaSecond});
  CHECK(owner.status == 0);
  CHECK(contains(owner.out, "belongs to user 1 (extra number)"));
}
