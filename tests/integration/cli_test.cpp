// The command line end to end: the real binary run as a child process against a config
// file and a SQLite file in a temporary directory; `simulate` against a real `serve`.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <regex>
#include <sstream>
#include <tuple>

#include "tests/integration/harness.hpp"

using namespace smsr;
using namespace smsr::test;
using nlohmann::json;

namespace {

// A config file in a temporary directory; every run writes the current `config` first.
struct Cli {
  TempDir dir;
  json config = base_config(dir);

  std::string config_path(const std::string& name = "config.json") const {
    write_file(dir.file(name), config.dump(2));
    return dir.file(name);
  }

  // `sms-router --config PATH ARGS...`
  CommandResult run(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) const {
    args.insert(args.begin(), {"--config", config_path()});
    return run_cli(args, env);
  }

  std::string users_list() const {
    auto r = run({"users", "list"});
    REQUIRE(r.status == 0);
    return r.out;
  }

  std::string csv(const std::string& name, const std::string& text) const {
    write_file(dir.file(name), text);
    return dir.file(name);
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The line of `text` that contains every one of `parts`, or "".
std::string line_with(const std::string& text, const std::vector<std::string>& parts) {
  for (const auto& line : lines_of(text)) {
    bool all = true;
    for (const auto& p : parts) all = all && contains(line, p);
    if (all) return line;
  }
  return "";
}

// The value printed after "label" (e.g. "signature:") on its own line, trimmed.
std::string labelled(const std::string& out, const std::string& label) {
  for (const auto& line : lines_of(out)) {
    if (line.rfind(label, 0) == 0) {
      auto value = line.substr(label.size());
      auto first = value.find_first_not_of(' ');
      return first == std::string::npos ? "" : value.substr(first);
    }
  }
  return "";
}

// A loopback port nobody listens on (bound then released).
int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string local_url(int port) { return "http://127.0.0.1:" + std::to_string(port); }

}  // namespace

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

// ---------------------------------------------------------------------------------------
// check-config
// ---------------------------------------------------------------------------------------

TEST_CASE("check-config prints the configuration as JSON with every secret masked and no secret value anywhere") {
  Cli cli;
  const std::string auth = "twilio-primary-secret-AAAA1111";
  const std::string secondary = "twilio-secondary-secret-BBBB2222";
  const std::string agent = "agent-bearer-secret-CCCC3333";
  const std::string admin = "admin-secret-DDDD4444-0123456789abcdef0123";
  const std::string pg_password = "PgPassw0rdEEEE5555";
  const std::string pg_url = "postgresql://router:" + pg_password + "@db.example.org:5432/central";
  cli.config["twilio"]["auth_token"] = auth;
  cli.config["twilio"]["secondary_auth_token"] = secondary;
  cli.config["agent"]["token"] = agent;
  cli.config["admin"]["token"] = admin;
  cli.config["sync"]["postgres_url"] = pg_url;

  auto r = cli.run({"check-config"});
  REQUIRE(r.status == 0);
  json shown = json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(shown.is_discarded());
  CHECK(shown["twilio"]["auth_token"] == "********");
  CHECK(shown["twilio"]["secondary_auth_token"] == "********");
  CHECK(shown["agent"]["token"] == "********");
  CHECK(shown["admin"]["token"] == "********");
  CHECK(shown["sync"]["postgres_url"] == "********");
  // Not everything is masked: the rest is the effective configuration.
  CHECK(shown["listen"]["host"] == "127.0.0.1");
  CHECK(shown["twilio"]["account_sid"] == kAccountSid);
  CHECK(shown["twilio"]["numbers"] == json::array({kRouterNumber}));
  CHECK(shown["database"]["path"] == cli.dir.file("router.db"));
  CHECK(shown["agent"]["url"] == "builtin:echo");
  CHECK(shown["cache"]["capacity"] == 100000);  // a default
  for (const auto& secret : {auth, secondary, agent, admin, pg_url, pg_password}) {
    INFO(secret);
    CHECK_FALSE(contains(r.out, secret));
    CHECK_FALSE(contains(r.err, secret));
  }
}

TEST_CASE("check-config masks a secret read from a file named by auth_token_file") {
  Cli cli;
  const std::string token = "token-from-a-file-FFFF6666";
  write_file(cli.dir.file("twilio-token"), token + "\n");
  cli.config["twilio"].erase("auth_token");
  cli.config["twilio"]["auth_token_file"] = cli.dir.file("twilio-token");
  auto r = cli.run({"check-config"});
  REQUIRE(r.status == 0);
  json shown = json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(shown.is_discarded());
  CHECK(shown["twilio"]["auth_token"] == "********");
  CHECK_FALSE(contains(r.out + r.err, token));

  // The token from the file is the one `signature` signs with.
  const FormFields fields = {{"From", kAda}, {"Body", "file token"}};
  const std::string url = "https://sms.example.org/sms-router/webhook/sms";
  auto sig = cli.run({"signature", "--url", url, "--body", encode_form(fields)});
  REQUIRE(sig.status == 0);
  CHECK(labelled(sig.out, "signature:") == compute_signature(token, signature_payload(url, fields)));
  CHECK_FALSE(contains(sig.out + sig.err, token));
}

TEST_CASE("check-config does not echo a secret whose value is refused") {
  Cli cli;
  const std::string admin = "short-admin-secret-XYZ";  // under 32 characters
  cli.config["admin"]["token"] = admin;
  auto r = cli.run({"check-config"});
  CHECK(r.status == 2);
  CHECK(lines_of(r.err).size() == 1);
  CHECK(contains(r.err, "admin.token"));
  CHECK_FALSE(contains(r.err, admin));
  CHECK_FALSE(contains(r.out, admin));
}

TEST_CASE("check-config rejects an unknown key with status 2 and one line naming the key") {
  Cli cli;
  cli.config["twilio"]["auth_tokn"] = "mistyped-secret-value-9876";
  auto r = cli.run({"check-config"});
  CHECK(r.status == 2);
  REQUIRE(lines_of(r.err).size() == 1);
  CHECK(contains(r.err, "twilio.auth_tokn"));
  CHECK_FALSE(contains(r.err, "mistyped-secret-value-9876"));
  CHECK(r.out.empty());

  Cli top;
  top.config["listn"] = {{"port", 8080}};
  auto t = top.run({"check-config"});
  CHECK(t.status == 2);
  REQUIRE(lines_of(t.err).size() == 1);
  CHECK(contains(t.err, "listn"));
}

TEST_CASE("check-config and serve both refuse an unusable agent.url or an unknown phone.default_region") {
  for (auto [key, value, expected] : {std::tuple{"agent", "ftp://agent.example/x", "agent.url"},
                                      std::tuple{"agent", "builtin:nope", "agent.url"},
                                      std::tuple{"phone", "ZZ", "phone.default_region"}}) {
    CAPTURE(key, value);
    Cli cli;
    cli.config[key][std::string(key) == "agent" ? "url" : "default_region"] = value;
    for (const char* command : {"check-config", "serve"}) {
      CAPTURE(command);
      auto r = cli.run({command});
      CHECK(r.status == 2);
      REQUIRE(lines_of(r.err).size() == 1);
      CHECK(contains(r.err, expected));
      CHECK(contains(r.err, value));
    }
  }
}

TEST_CASE("check-config rejects a value of the wrong type with status 2 naming the key") {
  Cli port;
  port.config["listen"]["port"] = "eighty";
  auto p = port.run({"check-config"});
  CHECK(p.status == 2);
  REQUIRE(lines_of(p.err).size() == 1);
  CHECK(contains(p.err, "listen.port"));

  Cli flag;
  flag.config["twilio"]["validate_signature"] = 0;
  auto f = flag.run({"check-config"});
  CHECK(f.status == 2);
  REQUIRE(lines_of(f.err).size() == 1);
  CHECK(contains(f.err, "twilio.validate_signature"));
}

TEST_CASE("check-config applies SMS_ROUTER environment overrides and rejects an unknown variable naming it") {
  Cli cli;
  const std::string env_token = "token-from-environment-QQQQ7777";
  auto r = cli.run({"check-config"}, {{"SMS_ROUTER_LISTEN_PORT", "9999"},
                                      {"SMS_ROUTER_TWILIO_AUTH_TOKEN", env_token}});
  REQUIRE(r.status == 0);
  json shown = json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(shown.is_discarded());
  CHECK(shown["listen"]["port"] == 9999);
  CHECK(shown["twilio"]["auth_token"] == "********");
  CHECK_FALSE(contains(r.out + r.err, env_token));

  auto without = cli.run({"check-config"});
  REQUIRE(without.status == 0);
  CHECK(json::parse(without.out)["listen"]["port"] == 0);  // the file's value

  auto typo = cli.run({"check-config"}, {{"SMS_ROUTER_TWILIO_AUTH_TOKN", "x"}});
  CHECK(typo.status == 2);
  REQUIRE(lines_of(typo.err).size() == 1);
  CHECK(contains(typo.err, "SMS_ROUTER_TWILIO_AUTH_TOKN"));

  auto bad_value = cli.run({"check-config"}, {{"SMS_ROUTER_LISTEN_PORT", "ninety"}});
  CHECK(bad_value.status == 2);
  CHECK(contains(bad_value.err, "SMS_ROUTER_LISTEN_PORT"));
}

TEST_CASE("a config option naming a missing file exits 2 and names the file") {
  Cli cli;
  const std::string missing = cli.dir.file("no-such-config.json");
  auto before = run_cli({"--config", missing, "check-config"});
  CHECK(before.status == 2);
  CHECK(contains(before.err, missing));
  CHECK(before.out.empty());
  auto after = run_cli({"users", "list", "--config", missing});
  CHECK(after.status == 2);
  CHECK(contains(after.err, missing));
  CHECK_FALSE(std::filesystem::exists(cli.dir.file("router.db")));

  auto from_env = run_cli({"check-config"}, {{"SMS_ROUTER_CONFIG", missing}});
  CHECK(from_env.status == 2);
  CHECK(contains(from_env.err, missing));
}

// ---------------------------------------------------------------------------------------
// migrate / version / help
// ---------------------------------------------------------------------------------------

TEST_CASE("migrate creates the database and a second run says it is up to date") {
  Cli cli;
  REQUIRE_FALSE(std::filesystem::exists(cli.dir.file("router.db")));
  auto first = cli.run({"migrate"});
  CHECK(first.status == 0);
  CHECK(std::filesystem::exists(cli.dir.file("router.db")));
  CHECK(contains(first.out, cli.dir.file("router.db")));
  CHECK_FALSE(contains(first.out, "up to date"));
  auto second = cli.run({"migrate"});
  CHECK(second.status == 0);
  CHECK(contains(second.out, "up to date"));
  // The migrated database is usable by the other commands.
  CHECK(cli.run({"users", "add", "--phone", kAda}).status == 0);
}

TEST_CASE("version prints the program name and a version and help lists the subcommands") {
  auto v = run_cli({"version"});
  CHECK(v.status == 0);
  CHECK(std::regex_match(v.out, std::regex(R"(sms-router [0-9][^\s]*\n)")));

  auto help = run_cli({"--help"});
  CHECK(help.status == 0);
  for (const char* sub : {"serve", "migrate", "check-config", "users", "simulate", "signature", "version"}) {
    INFO(sub);
    CHECK(contains(help.out, std::string("  ") + sub + " "));
  }
}

TEST_CASE("an unknown subcommand exits 2 with an error naming it") {
  auto r = run_cli({"frobnicate"});
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  CHECK_FALSE(r.err.empty());
  CHECK(contains(r.err, "frobnicate"));
}

// ---------------------------------------------------------------------------------------
// simulate
// ---------------------------------------------------------------------------------------

TEST_CASE("simulate posts a signed message to the running service and prints the echo reply") {
  TempDir dir;
  Service service(dir, base_config(dir));
  REQUIRE(service.cli({"users", "add", "--id", "1", "--phone", kAda}).status == 0);
  service.start();
  const std::string target = local_url(service.port());

  auto r = service.cli({"simulate", "--target", target, "--from", kAda, "hello", "from", "the", "CLI"});
  CHECK(r.status == 0);
  CHECK(r.out == "Echo: hello from the CLI\n");
  CHECK_FALSE(contains(r.out + r.err, kAuthToken));

  auto national = service.cli({"simulate", "--target", target, "--from", "(514) 555-0101", "again"});
  CHECK(national.status == 0);
  CHECK(national.out == "Echo: again\n");
}

TEST_CASE("simulate from an unregistered number prints the unregistered reply") {
  TempDir dir;
  Service service(dir, base_config(dir));
  service.start();
  auto r = service.cli({"simulate", "--target", local_url(service.port()), "--from", kStranger, "hi"});
  CHECK(r.status == 0);
  CHECK(contains(r.out, "not registered"));
  CHECK_FALSE(contains(r.out, "Echo:"));
}

TEST_CASE("simulate with no service listening exits 1 saying it cannot reach the service") {
  Cli cli;
  const std::string target = local_url(unused_port());
  auto r = cli.run({"simulate", "--target", target, "--from", kAda, "anyone", "there"});
  CHECK(r.status == 1);
  REQUIRE(lines_of(r.err).size() == 1);
  CHECK(contains(r.err, "cannot reach the service"));
  CHECK(contains(r.err, target));
  CHECK(r.out.empty());
}

TEST_CASE("simulate against a service with another auth token exits 1 and reports HTTP 403") {
  TempDir dir;
  Service service(dir, base_config(dir));
  REQUIRE(service.cli({"users", "add", "--id", "1", "--phone", kAda}).status == 0);
  service.start();

  json other = base_config(dir);
  const std::string wrong = "a-different-auth-token-ZZZZ0000";
  other["twilio"]["auth_token"] = wrong;
  write_file(dir.file("other.json"), other.dump(2));
  auto r = run_cli({"--config", dir.file("other.json"), "simulate", "--target", local_url(service.port()),
                    "--from", kAda, "let", "me", "in"});
  CHECK(r.status == 1);
  REQUIRE(lines_of(r.err).size() == 1);
  CHECK(contains(r.err, "HTTP 403"));
  CHECK_FALSE(contains(r.out + r.err, wrong));
  CHECK_FALSE(contains(r.out + r.err, kAuthToken));
  CHECK_FALSE(contains(r.out, "Echo:"));
}

// ---------------------------------------------------------------------------------------
// signature
// ---------------------------------------------------------------------------------------

TEST_CASE("signature prints the string signed and the signature the server computes and checks a given one") {
  Cli cli;
  const std::string url = "https://sms.example.org/sms-router/webhook/sms?tenant=a&x=1";
  const FormFields fields = {{"To", kRouterNumber},
                             {"From", kAda},
                             {"Body", "Hello & welcome = yes+more"},
                             {"MessageSid", "SM0123456789abcdef0123456789abcdef"},
                             {"AccountSid", kAccountSid}};
  const std::string payload = signature_payload(url, fields);
  const std::string expected = compute_signature(kAuthToken, payload);
  REQUIRE(expected.size() == 28);

  auto r = cli.run({"signature", "--url", url, "--body", encode_form(fields)});
  CHECK(r.status == 0);
  CHECK(labelled(r.out, "string signed:") == payload);
  CHECK(labelled(r.out, "signature:") == expected);
  CHECK_FALSE(contains(r.out + r.err, kAuthToken));

  auto good = cli.run({"signature", "--url", url, "--body", encode_form(fields), "--signature", expected});
  CHECK(good.status == 0);
  CHECK(contains(good.out, "accepted"));
  CHECK_FALSE(contains(good.out, "rejected"));
  CHECK_FALSE(contains(good.out + good.err, kAuthToken));

  std::string wrong = expected;
  wrong[3] = wrong[3] == 'A' ? 'B' : 'A';
  auto bad = cli.run({"signature", "--url", url, "--body", encode_form(fields), "--signature", wrong});
  CHECK(bad.status == 1);
  CHECK(contains(bad.out, "rejected"));
  CHECK_FALSE(contains(bad.out, "accepted:"));
  CHECK_FALSE(contains(bad.out + bad.err, kAuthToken));

  // The same signature for different fields is rejected: the body is part of what is signed.
  FormFields changed = fields;
  changed[2].second = "Hello & welcome = no";
  auto other_body = cli.run({"signature", "--url", url, "--body", encode_form(changed), "--signature", expected});
  CHECK(other_body.status == 1);
  CHECK(contains(other_body.out, "rejected"));
}

TEST_CASE("signature accepts a signature made over the URL with the default port added") {
  Cli cli;
  const FormFields fields = {{"From", kAda}, {"Body", "port variants"}};
  const std::string url = "https://sms.example.org/sms-router/webhook/sms";
  const std::string with_port = "https://sms.example.org:443/sms-router/webhook/sms";
  const std::string sig = compute_signature(kAuthToken, signature_payload(with_port, fields));
  REQUIRE(sig != compute_signature(kAuthToken, signature_payload(url, fields)));

  auto r = cli.run({"signature", "--url", url, "--body", encode_form(fields), "--signature", sig});
  CHECK(r.status == 0);
  CHECK(contains(r.out, "accepted"));
  CHECK(contains(line_with(r.out, {"accepted"}), with_port));

  // And the other way round: signed without the port, called with it.
  const std::string plain_sig = compute_signature(kAuthToken, signature_payload(url, fields));
  auto back = cli.run({"signature", "--url", with_port, "--body", encode_form(fields), "--signature", plain_sig});
  CHECK(back.status == 0);
  CHECK(contains(back.out, "accepted"));

  // A port that is not the scheme's default is not a variant.
  const std::string odd = compute_signature(
      kAuthToken, signature_payload("https://sms.example.org:8443/sms-router/webhook/sms", fields));
  auto no = cli.run({"signature", "--url", url, "--body", encode_form(fields), "--signature", odd});
  CHECK(no.status == 1);
  CHECK(contains(no.out, "rejected"));
}

TEST_CASE("signature accepts a signature made with the secondary token during rotation") {
  Cli cli;
  const std::string secondary = "rotating-secondary-token-RRRR8888";
  cli.config["twilio"]["secondary_auth_token"] = secondary;
  const FormFields fields = {{"From", kAda}, {"Body", "rotation"}};
  const std::string url = "https://sms.example.org/sms-router/webhook/sms";
  const std::string sig = compute_signature(secondary, signature_payload(url, fields));
  auto r = cli.run({"signature", "--url", url, "--body", encode_form(fields), "--signature", sig});
  CHECK(r.status == 0);
  CHECK(contains(r.out, "accepted"));
  CHECK_FALSE(contains(r.out + r.err, secondary));
  CHECK_FALSE(contains(r.out + r.err, kAuthToken));
}

TEST_CASE("signature with a JSON file accepts a signature over the URL carrying the body hash") {
  Cli cli;
  const std::string body = R"({"MessageSid":"SM0123","MessageStatus":"delivered"})";
  write_file(cli.dir.file("body.json"), body);
  const std::string url = "https://sms.example.org/sms-router/webhook/status?bodySHA256=" + sha256_hex(body);
  const std::string sig = compute_signature(kAuthToken, url);

  auto r = cli.run({"signature", "--url", url, "--json-file", cli.dir.file("body.json"), "--signature", sig});
  CHECK(r.status == 0);
  CHECK(contains(r.out, "accepted"));
  CHECK(labelled(r.out, "signature:") == sig);
  CHECK_FALSE(contains(r.out + r.err, kAuthToken));

  // The same URL and signature with a body that does not hash to bodySHA256 is rejected.
  write_file(cli.dir.file("tampered.json"), R"({"MessageSid":"SM0123","MessageStatus":"failed"})");
  auto t = cli.run({"signature", "--url", url, "--json-file", cli.dir.file("tampered.json"), "--signature", sig});
  CHECK(t.status == 1);
  CHECK(contains(t.out, "rejected"));
}
