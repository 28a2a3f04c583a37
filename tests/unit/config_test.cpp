#include "config/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using Catch::Matchers::Contains;
using smsr::Config;
using smsr::ConfigError;
using smsr::ConfigSources;

namespace {

constexpr const char* kCredentials = "/run/credentials/sms-router.service";

// No environment and no credentials; `files` are the only readable secret files.
ConfigSources sources_with_files(std::map<std::string, std::string> files = {}) {
  ConfigSources sources;
  sources.read_file = [files = std::move(files)](const std::string& path) {
    const auto found = files.find(path);
    return found == files.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
  sources.host_name = "edge-test-host";
  return sources;
}

ConfigSources sources_with_env(std::map<std::string, std::string> env,
                               std::map<std::string, std::string> files = {}) {
  ConfigSources sources = sources_with_files(std::move(files));
  sources.env = std::move(env);
  return sources;
}

Config parse(const std::string& text, const ConfigSources& sources = sources_with_files()) {
  return smsr::parse_config(text, "config.json", sources);
}

// The message of the ConfigError that parsing raises, or "" when parsing succeeds.
std::string error_from(const std::string& text,
                       const ConfigSources& sources = sources_with_files()) {
  try {
    parse(text, sources);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string env_error(const std::string& variable, const std::string& value) {
  return error_from("", sources_with_env({{variable, value}}));
}

// A directory of its own under the system temp dir, removed when the test ends.
struct TempDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("sms-router-config-test-" + std::to_string(getpid()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path / name) << content;
    return (path / name).string();
  }
};

Config config_with_every_secret() {
  Config config;
  config.twilio.auth_token = "tw-secret-1";
  config.twilio.secondary_auth_token = "tw-secret-2";
  config.agent.token = "agent-secret";
  config.admin.token = "admin-secret-admin-secret-admin-secret";
  config.sync.postgres_url = "postgresql://router:pg-password@db.example.org/central";
  return config;
}

}  // namespace

// --- Defaults and types -----------------------------------------------------------------

TEST_CASE("empty text yields the documented defaults") {
  const Config config = parse("");
  CHECK(config.listen.host == "0.0.0.0");
  CHECK(config.listen.port == 8000);
  CHECK(config.public_url == "http://localhost:8000");
  CHECK(config.database.path == "./sms-router.db");
  CHECK(config.phone.default_region == "US");
  CHECK(config.twilio.auth_token.empty());
  CHECK(config.twilio.validate_signature);
  CHECK(config.twilio.numbers.empty());
  CHECK(config.twilio.api_base_url == "https://api.twilio.com");
  CHECK(config.agent.url == "builtin:echo");
  CHECK(config.agent.timeout_ms == 30000);
  CHECK(config.agent.inline_wait_ms == 3000);
  CHECK(config.agent.concurrency == 32);
  CHECK(config.agent.max_attempts == 5);
  CHECK(config.agent.history_messages == 10);
  CHECK(config.cache.capacity == 100000);
  CHECK(config.cache.ttl_s == 300);
  CHECK(config.sync.postgres_url.empty());
  CHECK(config.sync.interval_s == 30);
  CHECK(config.replies.unknown_keywords.empty());
  CHECK(config.limits.per_sender_per_minute == 20);
  CHECK(config.limits.unknown_sender_replies_per_day == 1);
  CHECK(config.limits.max_body_bytes == 65536);
  CHECK_FALSE(config.spam.enabled);
  CHECK(config.spam.threshold == Approx(0.7));
  CHECK(config.admin.token.empty());
  CHECK(config.log.level == "info");
}

TEST_CASE("whitespace-only text and an empty object mean the same as empty text") {
  const std::string defaults = smsr::to_masked_json(parse(""));
  CHECK(smsr::to_masked_json(parse(" \n\t\n")) == defaults);
  CHECK(smsr::to_masked_json(parse("{}")) == defaults);
}

TEST_CASE("a file sets keys of every type") {
  const Config config = parse(R"({
    "listen": {"host": "127.0.0.1", "port": 9000},
    "public_url": "https://sms.example.org",
    "twilio": {"validate_signature": false, "numbers": ["+15551230001", "+447700900123"]},
    "cache": {"capacity": 5000000000},
    "spam": {"enabled": true, "threshold": 0.5},
    "replies": {"unknown_keywords": {"HELP": "Text JOIN to sign up"}, "inactive_user": ""},
    "log": {"level": "debug"}
  })");
  CHECK(config.listen.host == "127.0.0.1");
  CHECK(config.listen.port == 9000);
  CHECK(config.public_url == "https://sms.example.org");
  CHECK_FALSE(config.twilio.validate_signature);
  CHECK(config.twilio.numbers == std::vector<std::string>{"+15551230001", "+447700900123"});
  CHECK(config.cache.capacity == 5000000000);
  CHECK(config.spam.enabled);
  CHECK(config.spam.threshold == Approx(0.5));
  CHECK(config.replies.unknown_keywords.at("HELP") == "Text JOIN to sign up");
  CHECK(config.replies.inactive_user.empty());
  CHECK(config.log.level == "debug");
}

TEST_CASE("a value of the wrong type is an error naming the key and the type found") {
  const auto [text, message] = GENERATE(table<std::string, std::string>({
      {R"({"agent": {"timeout_ms": "30"}})",
       R"("agent.timeout_ms" must be an integer, got string)"},
      {R"({"agent": {"timeout_ms": 1.5}})",
       R"("agent.timeout_ms" must be an integer, got floating-point number)"},
      {R"({"cache": {"capacity": true}})", R"("cache.capacity" must be an integer, got boolean)"},
      {R"({"twilio": {"validate_signature": 0}})",
       R"("twilio.validate_signature" must be true or false, got number)"},
      {R"({"spam": {"enabled": "true"}})", R"("spam.enabled" must be true or false, got string)"},
      {R"({"spam": {"threshold": "high"}})", R"("spam.threshold" must be a number, got string)"},
      {R"({"public_url": 8000})", R"("public_url" must be a string, got number)"},
      {R"({"admin": {"token": null}})", R"("admin.token" must be a string, got null)"},
      {R"({"twilio": {"numbers": "+15551230001"}})",
       R"("twilio.numbers" must be an array of strings, got string)"},
      {R"({"twilio": {"numbers": [15551230001]}})",
       R"("twilio.numbers" must be an array of strings, got an array holding other values)"},
      {R"({"replies": {"unknown_keywords": ["HELP"]}})",
       R"("replies.unknown_keywords" must be an object of keyword to reply text, got array)"},
      {R"({"replies": {"unknown_keywords": {"HELP": 1}}})",
       R"("replies.unknown_keywords" must map each keyword to a string, got number for "HELP")"},
      {R"({"twilio": {"auth_token_file": 7}})",
       R"("twilio.auth_token_file" must be a file path (a string), got number)"},
  }));
  CHECK(error_from(text) == "config.json: " + message);
}

TEST_CASE("a section that is not an object is an error naming the section") {
  CHECK(error_from(R"({"twilio": 5})") ==
        R"(config.json: "twilio" must be an object holding its keys, got number)");
}

TEST_CASE("a top level that is not an object is an error") {
  CHECK(error_from("[1, 2]") == "config.json: the top level must be a JSON object, got array");
}

// --- Unknown keys and invalid JSON --------------------------------------------------------

TEST_CASE("an unknown key is an error naming it and suggesting the closest known key") {
  CHECK(error_from(R"({"twilio": {"auth_tokn": "x"}})") ==
        R"(config.json: unknown key "twilio.auth_tokn" (did you mean "twilio.auth_token"?))");
  CHECK(error_from(R"({"admin": {"token_fil": "/x"}})") ==
        R"(config.json: unknown key "admin.token_fil" (did you mean "admin.token_file"?))");
  CHECK(error_from(R"({"twillio": {}})") ==
        R"(config.json: unknown key "twillio" (did you mean "twilio"?))");
}

TEST_CASE("an unknown key with no close match is named without a suggestion") {
  CHECK(error_from(R"({"agent": {"colour": "blue"}})") ==
        R"(config.json: unknown key "agent.colour"; remove it or correct its name)");
}

TEST_CASE("a dotted key name at the top level is not accepted as a shortcut") {
  CHECK_THAT(error_from(R"({"listen.port": 9000})"), Contains(R"(unknown key "listen.port")"));
}

TEST_CASE("invalid JSON reports the line and column of the mistake") {
  const std::string text = "{\n  \"listen\": {\n    \"port\": 80,\n  }\n}";
  CHECK_THAT(error_from(text), Contains("config.json: invalid JSON at line 4, column 3: "));
}

TEST_CASE("an invalid JSON message does not echo the text around the mistake") {
  const std::string message = error_from(R"({"twilio": {"auth_token": "s3cr3t-value)");
  CHECK_THAT(message, Contains("invalid JSON at line 1"));
  CHECK_THAT(message, !Contains("s3cr3t"));
}

TEST_CASE("hostile JSON text raises only ConfigError") {
  const std::string text = GENERATE(as<std::string>{}, R"({"spam": {"threshold": 1e400}})",
                                    "{\"replies\": {\"error\": \"\xff\"}}", "{\"a\":", "nul",
                                    std::string(1, '\0'));
  CHECK_THROWS_AS(parse(text), ConfigError);
}

// --- Ranges and shapes ------------------------------------------------------------------

TEST_CASE("a number outside its range is an error stating the range") {
  const auto [text, message] = GENERATE(table<std::string, std::string>({
      {R"({"listen": {"port": 65536}})", R"("listen.port" must be between 0 and 65535, got 65536)"},
      {R"({"listen": {"port": -1}})", R"("listen.port" must be between 0 and 65535, got -1)"},
      {R"({"agent": {"timeout_ms": 0}})", R"("agent.timeout_ms" must be at least 1, got 0)"},
      {R"({"agent": {"timeout_ms": 3000000000}})",
       R"("agent.timeout_ms" must be at most 2147483647, got 3000000000)"},
      {R"({"agent": {"inline_wait_ms": -1}})",
       R"("agent.inline_wait_ms" must be at least 0, got -1)"},
      {R"({"agent": {"concurrency": 0}})",
       R"("agent.concurrency" must be between 1 and 1024, got 0)"},
      {R"({"agent": {"concurrency": 1025}})",
       R"("agent.concurrency" must be between 1 and 1024, got 1025)"},
      {R"({"agent": {"max_attempts": 0}})", R"("agent.max_attempts" must be at least 1, got 0)"},
      {R"({"agent": {"history_messages": 101}})",
       R"("agent.history_messages" must be between 0 and 100, got 101)"},
      {R"({"cache": {"capacity": 0}})", R"("cache.capacity" must be at least 1, got 0)"},
      {R"({"cache": {"capacity": 18446744073709551615}})",
       R"("cache.capacity" must be at most 9223372036854775807, got 18446744073709551615)"},
      {R"({"cache": {"ttl_s": 0}})", R"("cache.ttl_s" must be at least 1, got 0)"},
      {R"({"sync": {"interval_s": 0}})", R"("sync.interval_s" must be at least 1, got 0)"},
      {R"({"limits": {"per_sender_per_minute": -1}})",
       R"("limits.per_sender_per_minute" must be at least 0, got -1)"},
      {R"({"limits": {"unknown_sender_replies_per_day": -1}})",
       R"("limits.unknown_sender_replies_per_day" must be at least 0, got -1)"},
      {R"({"limits": {"max_body_bytes": 1023}})",
       R"("limits.max_body_bytes" must be between 1024 and 67108864, got 1023)"},
      {R"({"spam": {"threshold": 1.5}})", R"("spam.threshold" must be between 0 and 1, got 1.5)"},
      {R"({"spam": {"threshold": -0.1}})", R"("spam.threshold" must be between 0 and 1, got -0.1)"},
  }));
  CHECK(error_from(text) == "config.json: " + message);
}

TEST_CASE("the ends of each range are accepted") {
  const Config low = parse(R"({
    "listen": {"port": 0},
    "agent": {"inline_wait_ms": 0, "concurrency": 1, "history_messages": 0},
    "limits": {"per_sender_per_minute": 0, "unknown_sender_replies_per_day": 0,
               "max_body_bytes": 1024},
    "spam": {"threshold": 0}
  })");
  CHECK(low.listen.port == 0);
  CHECK(low.agent.concurrency == 1);
  CHECK(low.limits.max_body_bytes == 1024);
  CHECK(low.spam.threshold == 0.0);
  const Config high = parse(R"({
    "listen": {"port": 65535},
    "agent": {"concurrency": 1024, "history_messages": 100},
    "spam": {"threshold": 1}
  })");
  CHECK(high.listen.port == 65535);
  CHECK(high.agent.concurrency == 1024);
  CHECK(high.agent.history_messages == 100);
  CHECK(high.spam.threshold == 1.0);
}

TEST_CASE("public_url and api_base_url lose one trailing slash") {
  const Config config = parse(R"({
    "public_url": "https://sms.example.org/",
    "twilio": {"api_base_url": "http://127.0.0.1:9999/"}
  })");
  CHECK(config.public_url == "https://sms.example.org");
  CHECK(config.twilio.api_base_url == "http://127.0.0.1:9999");
  CHECK(parse(R"({"public_url": "http://[::1]:8000"})").public_url == "http://[::1]:8000");
}

TEST_CASE("public_url must be an http or https origin with a host and no path") {
  const std::string url = GENERATE(as<std::string>{}, "ftp://sms.example.org",
                                   "sms.example.org", "https://", "https:///", "http://:8000",
                                   "https://sms.example.org/webhook", "https://sms.example.org//",
                                   "https://sms.example.org?x=1", "https://user@sms.example.org",
                                   "https://sms.example.org:99999", "https://sms.example.org:");
  CHECK_THAT(error_from(R"({"public_url": ")" + url + R"("})"),
             Contains(R"(config.json: "public_url" )") && Contains(url));
}

TEST_CASE("twilio.api_base_url must be an http or https origin") {
  CHECK_THAT(error_from(R"({"twilio": {"api_base_url": "api.twilio.com"}})"),
             Contains(R"("twilio.api_base_url" must start with http:// or https://)"));
}

TEST_CASE("phone.default_region must be two upper-case letters") {
  CHECK(parse(R"({"phone": {"default_region": "GB"}})").phone.default_region == "GB");
  const std::string region = GENERATE(as<std::string>{}, "gb", "USA", "U", "", "1A");
  CHECK_THAT(error_from(R"({"phone": {"default_region": ")" + region + R"("}})"),
             Contains(R"("phone.default_region" must be two upper-case letters)"));
}

TEST_CASE("log.level accepts only debug, info, warn and error") {
  CHECK(parse(R"({"log": {"level": "warn"}})").log.level == "warn");
  const std::string level = GENERATE(as<std::string>{}, "verbose", "INFO", "");
  CHECK_THAT(error_from(R"({"log": {"level": ")" + level + R"("}})"),
             Contains(R"("log.level" must be one of debug, info, warn, error)"));
}

TEST_CASE("an admin token shorter than 32 characters is rejected without echoing it") {
  const std::string message = error_from(R"({"admin": {"token": "short-secret-token"}})");
  CHECK_THAT(message, Contains(R"("admin.token" must be at least 32 characters long (it has 18))"));
  CHECK_THAT(message, !Contains("short-secret-token"));
  const std::string token(32, 'k');
  CHECK(parse(R"({"admin": {"token": ")" + token + R"("}})").admin.token == token);
}

TEST_CASE("twilio.numbers entries must be E.164 numbers") {
  const std::string number = GENERATE(as<std::string>{}, "5551230001", "+05551230001", "+155512",
                                      "+1555123000123456", "+1 555 123 0001", "+", "");
  CHECK(error_from(R"({"twilio": {"numbers": ["+15551230001", ")" + number + R"("]}})") ==
        R"(config.json: "twilio.numbers" must list E.164 numbers such as +15551234567, got ")" +
            number + "\"");
}

TEST_CASE("unknown_keywords are stored trimmed and upper-cased") {
  const Config config =
      parse(R"({"replies": {"unknown_keywords": {" help ": "Menu", "Join": "Sign up"}}})");
  CHECK(config.replies.unknown_keywords ==
        std::map<std::string, std::string>{{"HELP", "Menu"}, {"JOIN", "Sign up"}});
}

TEST_CASE("unknown_keywords that collide after normalising, or are blank, are rejected") {
  CHECK(error_from(R"({"replies": {"unknown_keywords": {"stop": "a", "STOP ": "b"}}})") ==
        R"(config.json: "replies.unknown_keywords" has the keyword "STOP" twice )"
        "(keywords ignore case and surrounding spaces)");
  CHECK_THAT(error_from(R"({"replies": {"unknown_keywords": {"  ": "a"}}})"),
             Contains("must not have an empty keyword"));
}

// --- Secret files and credentials ---------------------------------------------------------

TEST_CASE("a *_file key reads the secret from the file without its trailing newline") {
  const Config config = parse(R"({
    "twilio": {"auth_token_file": "/s/twilio", "secondary_auth_token_file": "/s/twilio2"},
    "agent": {"token_file": "/s/agent"},
    "admin": {"token_file": "/s/admin"}
  })",
                              sources_with_files({{"/s/twilio", "tw-token\r\n"},
                                                  {"/s/twilio2", "tw-old\n\n"},
                                                  {"/s/agent", "line1\nline2\n"},
                                                  {"/s/admin", std::string(40, 'a') + "\n"}}));
  CHECK(config.twilio.auth_token == "tw-token");
  CHECK(config.twilio.secondary_auth_token == "tw-old");
  CHECK(config.agent.token == "line1\nline2");
  CHECK(config.admin.token == std::string(40, 'a'));
}

TEST_CASE("an unreadable *_file is an error naming the key and the path") {
  CHECK(error_from(R"({"agent": {"token_file": "/missing/agent-token"}})") ==
        R"(config.json: "agent.token_file": cannot read "/missing/agent-token"; )"
        "check that it exists and the service user may read it");
}

TEST_CASE("a secret file's content is checked like the key itself, without echoing it") {
  const std::string message = error_from(R"({"admin": {"token_file": "/s/admin"}})",
                                         sources_with_files({{"/s/admin", "too-short\n"}}));
  CHECK_THAT(message, Contains(R"(/s/admin: "admin.token" must be at least 32 characters)"));
  CHECK_THAT(message, !Contains("too-short"));
}

TEST_CASE("setting a secret and its *_file in the file is an error") {
  CHECK(error_from(R"({"twilio": {"auth_token": "x", "auth_token_file": "/s/t"}})",
                   sources_with_files({{"/s/t", "y"}})) ==
        R"(config.json: both "twilio.auth_token" and "twilio.auth_token_file" are set; keep one)");
}

TEST_CASE("credentials override the file for every secret key") {
  ConfigSources sources = sources_with_files({
      {std::string(kCredentials) + "/twilio.auth_token", "cred-twilio\n"},
      {std::string(kCredentials) + "/twilio.secondary_auth_token", "cred-twilio-old"},
      {std::string(kCredentials) + "/agent.token", "cred-agent"},
      {std::string(kCredentials) + "/admin.token", std::string(32, 'c')},
      {std::string(kCredentials) + "/sync.postgres_url", "postgresql://u:pw@db/central"},
      {"/s/agent", "file-agent"},
  });
  sources.credentials_directory = kCredentials;
  const Config config = parse(R"({
    "twilio": {"auth_token": "file-twilio", "secondary_auth_token": "file-twilio-old"},
    "agent": {"token_file": "/s/agent"},
    "admin": {"token": ")" + std::string(32, 'f') + R"("},
    "sync": {"postgres_url": "postgresql://file"}
  })",
                              sources);
  CHECK(config.twilio.auth_token == "cred-twilio");
  CHECK(config.twilio.secondary_auth_token == "cred-twilio-old");
  CHECK(config.agent.token == "cred-agent");
  CHECK(config.admin.token == std::string(32, 'c'));
  CHECK(config.sync.postgres_url == "postgresql://u:pw@db/central");
}

TEST_CASE("a secret without a credential file keeps its value from the file") {
  ConfigSources sources =
      sources_with_files({{std::string(kCredentials) + "/agent.token", "cred-agent"}});
  sources.credentials_directory = kCredentials;
  const Config config =
      parse(R"({"twilio": {"auth_token": "file-twilio"}, "agent": {"token": "file-agent"}})",
            sources);
  CHECK(config.twilio.auth_token == "file-twilio");
  CHECK(config.agent.token == "cred-agent");
}

TEST_CASE("no credential files are read when no credentials directory is set") {
  std::vector<std::string> paths_read;
  ConfigSources sources = sources_with_files();
  sources.read_file = [&paths_read](const std::string& path) {
    paths_read.push_back(path);
    return std::optional<std::string>("value");
  };
  parse("", sources);
  CHECK(paths_read.empty());
}

// --- Environment ------------------------------------------------------------------------

TEST_CASE("environment variables override the file and credentials") {
  ConfigSources sources = sources_with_env(
      {{"SMS_ROUTER_LISTEN_PORT", "9001"},
       {"SMS_ROUTER_TWILIO_AUTH_TOKEN", "env-token"},
       {"SMS_ROUTER_PUBLIC_URL", "https://env.example.org/"}},
      {{std::string(kCredentials) + "/twilio.auth_token", "cred-token"}});
  sources.credentials_directory = kCredentials;
  const Config config =
      parse(R"({"listen": {"port": 8001}, "twilio": {"auth_token": "file-token"}})", sources);
  CHECK(config.listen.port == 9001);
  CHECK(config.twilio.auth_token == "env-token");
  CHECK(config.public_url == "https://env.example.org");
}

TEST_CASE("boolean environment values accept true/false, 1/0 and yes/no") {
  const auto [text, expected] = GENERATE(table<std::string, bool>({
      {"true", true}, {"TRUE", true}, {"1", true}, {"yes", true},
      {"false", false}, {"0", false}, {"no", false}, {"No", false},
  }));
  const Config config = parse("", sources_with_env({{"SMS_ROUTER_SPAM_ENABLED", text}}));
  CHECK(config.spam.enabled == expected);
}

TEST_CASE("twilio.numbers from the environment is a comma-separated list or a JSON array") {
  const std::string text = GENERATE(as<std::string>{}, "+15551230001, +15551230002",
                                    R"(["+15551230001", "+15551230002"])");
  const Config config = parse("", sources_with_env({{"SMS_ROUTER_TWILIO_NUMBERS", text}}));
  CHECK(config.twilio.numbers == std::vector<std::string>{"+15551230001", "+15551230002"});
  CHECK(parse("", sources_with_env({{"SMS_ROUTER_TWILIO_NUMBERS", ""}})).twilio.numbers.empty());
}

TEST_CASE("numbers and keyword menus from the environment get their key's type") {
  const ConfigSources sources = sources_with_env({
      {"SMS_ROUTER_CACHE_CAPACITY", "5000000000"},
      {"SMS_ROUTER_SPAM_THRESHOLD", "0.25"},
      {"SMS_ROUTER_REPLIES_UNKNOWN_KEYWORDS", R"({" join ": "Hi"})"},
  });
  const Config config = parse("", sources);
  CHECK(config.cache.capacity == 5000000000);
  CHECK(config.spam.threshold == Approx(0.25));
  CHECK(config.replies.unknown_keywords == std::map<std::string, std::string>{{"JOIN", "Hi"}});
}

TEST_CASE("an environment value that does not fit its key names the variable and the key") {
  const auto [variable, value, message] = GENERATE(table<std::string, std::string, std::string>({
      {"SMS_ROUTER_AGENT_TIMEOUT_MS", "30s", R"("agent.timeout_ms" must be an integer, got "30s")"},
      {"SMS_ROUTER_AGENT_TIMEOUT_MS", " 5", R"("agent.timeout_ms" must be an integer, got " 5")"},
      {"SMS_ROUTER_AGENT_TIMEOUT_MS", "+5", R"("agent.timeout_ms" must be an integer, got "+5")"},
      {"SMS_ROUTER_AGENT_TIMEOUT_MS", "5.0", R"("agent.timeout_ms" must be an integer, got "5.0")"},
      {"SMS_ROUTER_AGENT_TIMEOUT_MS", "", R"("agent.timeout_ms" must be an integer, got "")"},
      {"SMS_ROUTER_CACHE_CAPACITY", "99999999999999999999",
       R"("cache.capacity" is out of range, got "99999999999999999999")"},
      {"SMS_ROUTER_LISTEN_PORT", "70000",
       R"("listen.port" must be between 0 and 65535, got 70000)"},
      {"SMS_ROUTER_SPAM_ENABLED", "maybe",
       R"("spam.enabled" must be true/false, 1/0 or yes/no, got "maybe")"},
      {"SMS_ROUTER_SPAM_THRESHOLD", "high", R"("spam.threshold" must be a number, got "high")"},
      {"SMS_ROUTER_SPAM_THRESHOLD", "nan", R"("spam.threshold" must be a number, got "nan")"},
      {"SMS_ROUTER_TWILIO_NUMBERS", "[1]",
       R"("twilio.numbers" must be an array of strings, got an array holding other values)"},
      {"SMS_ROUTER_TWILIO_NUMBERS", "[\"+15551230001\"",
       R"("twilio.numbers" must be a JSON array of strings or a comma-separated list)"},
      {"SMS_ROUTER_REPLIES_UNKNOWN_KEYWORDS", "HELP",
       R"("replies.unknown_keywords" must be a JSON object such as {"HELP": "Reply text"})"},
  }));
  CHECK(env_error(variable, value) == "environment variable " + variable + ": " + message);
}

TEST_CASE("an SMS_ROUTER_ variable that names no key is an error naming the variable") {
  CHECK(env_error("SMS_ROUTER_TWILIO_AUTH_TOKN", "x") ==
        "environment variable SMS_ROUTER_TWILIO_AUTH_TOKN names no configuration key "
        "(did you mean SMS_ROUTER_TWILIO_AUTH_TOKEN?); unset it or correct its name");
  CHECK(env_error("SMS_ROUTER_SOMETHING_ELSE", "x") ==
        "environment variable SMS_ROUTER_SOMETHING_ELSE names no configuration key; "
        "unset it or correct its name");
}

TEST_CASE("SMS_ROUTER_CONFIG and variables without the prefix are ignored") {
  const Config config = parse("", sources_with_env({{"SMS_ROUTER_CONFIG", "/etc/other.json"},
                                                    {"HOME", "/root"},
                                                    {"TWILIO_AUTH_TOKEN", "not-ours"}}));
  CHECK(config.twilio.auth_token.empty());
}

TEST_CASE("a *_FILE environment variable reads the secret from that file") {
  const Config config =
      parse(R"({"admin": {"token": ")" + std::string(32, 'f') + R"("}})",
            sources_with_env({{"SMS_ROUTER_ADMIN_TOKEN_FILE", "/s/admin"}},
                             {{"/s/admin", std::string(33, 'e') + "\n"}}));
  CHECK(config.admin.token == std::string(33, 'e'));
}

TEST_CASE("setting a secret and its *_FILE in the environment is an error") {
  CHECK(error_from("", sources_with_env({{"SMS_ROUTER_AGENT_TOKEN", "x"},
                                         {"SMS_ROUTER_AGENT_TOKEN_FILE", "/s/agent"}},
                                        {{"/s/agent", "y"}})) ==
        "environment: both SMS_ROUTER_AGENT_TOKEN and SMS_ROUTER_AGENT_TOKEN_FILE are set; "
        "unset one");
}

// --- Derived values and serve checks ------------------------------------------------------

TEST_CASE("sync.edge_id falls back to the host name only when left empty") {
  CHECK(parse("").sync.edge_id == "edge-test-host");
  CHECK(parse(R"({"sync": {"edge_id": ""}})").sync.edge_id == "edge-test-host");
  CHECK(parse(R"({"sync": {"edge_id": "edge-7"}})").sync.edge_id == "edge-7");
}

TEST_CASE("serve needs an auth token while signatures are validated") {
  Config config;
  CHECK_THROWS_WITH(
      smsr::validate_for_serve(config),
      "twilio.auth_token is not set: signatures cannot be checked; set it (or "
      "twilio.auth_token_file, or SMS_ROUTER_TWILIO_AUTH_TOKEN), or set "
      "twilio.validate_signature=false for local experiments only");
  config.twilio.auth_token = "token";
  CHECK_NOTHROW(smsr::validate_for_serve(config));
  config.twilio.auth_token.clear();
  config.twilio.validate_signature = false;
  CHECK_NOTHROW(smsr::validate_for_serve(config));
}

TEST_CASE("serve rejects a secondary auth token without a primary one") {
  Config config;
  config.twilio.validate_signature = false;
  config.twilio.secondary_auth_token = "old-token";
  CHECK_THROWS_WITH(smsr::validate_for_serve(config),
                    Contains("twilio.secondary_auth_token is set but twilio.auth_token is not"));
}

// --- Output -----------------------------------------------------------------------------

TEST_CASE("the masked JSON shows no secret value and masks each set secret") {
  const Config config = config_with_every_secret();
  const std::string masked = smsr::to_masked_json(config);
  for (const auto& secret : smsr::secret_values(config)) CHECK_THAT(masked, !Contains(secret));
  CHECK_THAT(masked, !Contains("pg-password"));
  const auto json = nlohmann::json::parse(masked);
  CHECK(json["twilio"]["auth_token"] == "********");
  CHECK(json["twilio"]["secondary_auth_token"] == "********");
  CHECK(json["agent"]["token"] == "********");
  CHECK(json["admin"]["token"] == "********");
  CHECK(json["sync"]["postgres_url"] == "********");
}

TEST_CASE("the masked JSON leaves unset secrets empty") {
  const auto json = nlohmann::json::parse(smsr::to_masked_json(Config{}));
  CHECK(json["twilio"]["auth_token"] == "");
  CHECK(json["admin"]["token"] == "");
  CHECK(json["sync"]["postgres_url"] == "");
}

TEST_CASE("the masked JSON lists every section and key but no *_file key") {
  const std::string masked = smsr::to_masked_json(Config{});
  CHECK(masked.starts_with("{\n  \"listen\": {\n    \"host\": \"0.0.0.0\","));
  const auto json = nlohmann::json::parse(masked);
  std::set<std::string> keys;
  for (const auto& [name, value] : json.items()) {
    if (!value.is_object()) {
      keys.insert(name);
      continue;
    }
    for (const auto& [member, unused] : value.items()) keys.insert(name + "." + member);
  }
  CHECK(keys.size() == 46);
  CHECK(keys.count("public_url") == 1);
  CHECK(keys.count("sync.log_retention_days") == 1);
  CHECK(keys.count("replies.unknown_keywords") == 1);
  CHECK(keys.count("log.level") == 1);
  // Paths named *_file that are settings of their own, not a secret's file variant.
  CHECK(keys.count("listen.tls_cert_file") == 1);
  CHECK(keys.count("listen.tls_key_file") == 1);
  CHECK(std::none_of(keys.begin(), keys.end(), [](const std::string& key) {
    return key.ends_with("_file") && !key.starts_with("listen.tls_");
  }));
}

TEST_CASE("the masked JSON of a config without secrets parses back to the same config") {
  const Config original = parse(R"({
    "listen": {"port": 9100}, "public_url": "https://sms.example.org",
    "twilio": {"numbers": ["+15551230001"], "validate_signature": false},
    "agent": {"url": "http://agent.local/{user_id}", "history_messages": 3},
    "cache": {"capacity": 5000000000}, "sync": {"edge_id": "edge-3"},
    "replies": {"unknown_keywords": {"HELP": "Menu"}}, "spam": {"threshold": 0.35}
  })");
  const std::string masked = smsr::to_masked_json(original);
  CHECK(smsr::to_masked_json(parse(masked)) == masked);
}

TEST_CASE("the masked JSON survives a value that is not valid UTF-8") {
  const Config config = parse("", sources_with_env({{"SMS_ROUTER_REPLIES_ERROR", "\xff"}}));
  CHECK_NOTHROW(smsr::to_masked_json(config));
}

TEST_CASE("secret_values lists exactly the non-empty secrets") {
  Config config;
  config.twilio.auth_token = "tw-secret";
  config.sync.postgres_url = "postgresql://u:pw@db/central";
  CHECK_THAT(smsr::secret_values(config),
             Catch::Matchers::UnorderedEquals(
                 std::vector<std::string>{"tw-secret", "postgresql://u:pw@db/central"}));
  CHECK(smsr::secret_values(config_with_every_secret()).size() == 5);
}

// --- load_config ------------------------------------------------------------------------

TEST_CASE("load_config uses the defaults when the default path does not exist") {
  const TempDir dir;
  const Config config = smsr::load_config((dir.path / "absent.json").string(), false);
  CHECK(config.listen.port == 8000);
}

TEST_CASE("load_config fails when an explicitly named file does not exist") {
  const TempDir dir;
  const std::string path = (dir.path / "absent.json").string();
  CHECK_THROWS_WITH(smsr::load_config(path, true),
                    "cannot read config file " + path +
                        ": No such file or directory; pass --config FILE or create it");
}

TEST_CASE("load_config fails on a default path that exists but cannot be read") {
  const TempDir dir;
  CHECK_THROWS_WITH(smsr::load_config(dir.path.string(), false), Contains("Is a directory"));
}

TEST_CASE("load_config reads the file and names it in errors") {
  const TempDir dir;
  CHECK(smsr::load_config(dir.write("good.json", R"({"listen": {"port": 9200}})"), true)
            .listen.port == 9200);
  const std::string bad = dir.write("bad.json", R"({"listen": {"port": "x"}})");
  CHECK_THROWS_WITH(smsr::load_config(bad, true),
                    bad + R"(: "listen.port" must be an integer, got string)");
}

TEST_CASE("load_config takes sync.edge_id from the machine's host name") {
  const TempDir dir;
  char host[256] = {};
  REQUIRE(gethostname(host, sizeof host - 1) == 0);
  CHECK(smsr::load_config(dir.write("empty.json", "{}"), true).sync.edge_id == host);
}

// --- Reload ------------------------------------------------------------------------------

TEST_CASE("a reload keeps restart-only values as they run, names them, and applies the others") {
  Config running;
  Config next = running;
  next.listen.port = 9000;                      // restart
  next.cache.capacity = 5;                      // restart
  next.twilio.auth_token = "new-token";         // partly: signatures at once, sending at restart
  next.limits.max_body_bytes = 2048;            // applies
  next.replies.error = "Something went wrong";  // applies

  const auto names = smsr::keep_restart_only(running, next);
  CHECK(names == std::vector<std::string>{"listen.port", "twilio.auth_token (sending; signatures use the new one)",
                                          "cache.capacity"});
  CHECK(next.listen.port == running.listen.port);
  CHECK(next.cache.capacity == running.cache.capacity);
  CHECK(next.twilio.auth_token == "new-token");
  CHECK(next.limits.max_body_bytes == 2048);
  CHECK(next.replies.error == "Something went wrong");
}

TEST_CASE("a reload that changes nothing restart-only names nothing") {
  Config running;
  Config next = running;
  next.agent.timeout_ms = 1234;
  CHECK(smsr::keep_restart_only(running, next).empty());
  CHECK(next.agent.timeout_ms == 1234);
}
