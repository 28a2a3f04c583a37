// The rest of the command line end to end (check-config, migrate, version, simulate,
// signature): the real binary run as a child process; `simulate` against a real `serve`.
#include <filesystem>
#include <regex>
#include <sstream>
#include <tuple>

#include "tests/integration/cli_fixture.hpp"

using namespace smsr;
using namespace smsr::test;
using nlohmann::json;

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
  INFO(r.err);
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
