// The service configuration: one typed struct, parsed from JSON text, environment
// variables and secret files. This module depends on nothing else in the project.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smsr {

// A configuration problem. what() is one line naming the key (and file) and what to do.
// Environment variables named SMS_ROUTER_<SECTION>_<KEY> override the file.
inline constexpr std::string_view kEnvPrefix = "SMS_ROUTER_";

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ListenConfig {
  std::string host = "0.0.0.0";
  int port = 8000;
  // Both set: the port speaks HTTPS only. PEM; the certificate file may hold the chain.
  std::string tls_cert_file;
  std::string tls_key_file;
  int io_threads = 0;  // 0 = one per core
  std::vector<std::string> trusted_proxies;  // peer addresses exempt from the per-client cap
  bool tls() const { return !tls_cert_file.empty() || !tls_key_file.empty(); }
};

struct DatabaseConfig {
  std::string path = "./sms-router.db";
  int retention_days = 90;  // finished messages older than this are deleted; 0 = keep all
};

struct PhoneConfig {
  std::string default_region = "US";
};

struct TwilioConfig {
  std::string account_sid;
  std::string auth_token;            // secret
  std::string secondary_auth_token;  // secret; accepted for signatures during rotation
  bool validate_signature = true;
  std::vector<std::string> numbers;  // E.164
  std::string api_base_url = "https://api.twilio.com";
};

struct AgentConfig {
  std::string url = "builtin:echo";
  std::string token;  // secret
  int timeout_ms = 30000;
  int inline_wait_ms = 3000;
  int concurrency = 32;
  int max_attempts = 5;
  int history_messages = 10;
};

struct CacheConfig {
  std::int64_t capacity = 100000;
  int ttl_s = 300;
};

struct SyncConfig {
  std::string postgres_url;  // secret (may carry a password); "" = standalone
  int interval_s = 30;
  std::string edge_id;       // "" in the file = host name
  int log_retention_days = 30;  // usage logs already pushed are deleted locally after this
};

struct RepliesConfig {
  std::string unknown_sender =
      "This number is not registered with this service. Please contact your administrator.";
  std::map<std::string, std::string> unknown_keywords;  // keys stored upper-case, trimmed
  std::string inactive_user = "Your account is inactive. Please contact your administrator.";
  std::string error = "Sorry, we could not process your message. Please try again later.";
};

struct LimitsConfig {
  int per_sender_per_minute = 20;
  int unknown_sender_replies_per_day = 1;
  std::int64_t max_body_bytes = 65536;
  int max_message_chars = 1600;  // longest single outbound SMS; longer texts go out in parts
  int max_connections = 10000;          // open HTTP connections in all
  int max_connections_per_client = 256;  // per peer address; 0 = no cap
  int header_timeout_ms = 5000;         // request line and headers, from their first byte
  int body_timeout_ms = 10000;          // the whole body, after the headers
  int idle_timeout_s = 60;              // an idle keep-alive connection
};

struct SpamConfig {
  bool enabled = false;
  double threshold = 0.7;
};

struct AdminConfig {
  std::string token;  // secret; admin API off while empty; at least 32 characters
};

struct LogConfig {
  std::string level = "info";  // debug | info | warn | error
};

struct Config {
  ListenConfig listen;
  std::string public_url = "http://localhost:8000";
  DatabaseConfig database;
  PhoneConfig phone;
  TwilioConfig twilio;
  AgentConfig agent;
  CacheConfig cache;
  SyncConfig sync;
  RepliesConfig replies;
  LimitsConfig limits;
  SpamConfig spam;
  AdminConfig admin;
  LogConfig log;
};

// Where configuration comes from besides the JSON text. Injected so the parser stays pure
// and tests can feed literals.
struct ConfigSources {
  // Environment variables (name -> value). Only SMS_ROUTER_* names are looked at;
  // SMS_ROUTER_CONFIG (the config path) is ignored here.
  std::map<std::string, std::string> env;
  // Reads a secret file (for *_file keys and $CREDENTIALS_DIRECTORY). Returns nullopt if
  // the file cannot be read. Trailing newlines are stripped by the parser.
  std::function<std::optional<std::string>(const std::string& path)> read_file;
  // Value of $CREDENTIALS_DIRECTORY, or "" when not running under systemd credentials.
  std::string credentials_directory;
  // Used as sync.edge_id when the configuration leaves it empty.
  std::string host_name;
};

// Parses JSON text (may be "" meaning "{}") into a Config, applying in order: defaults,
// the file's keys (and *_file secrets), credentials from credentials_directory, then
// SMS_ROUTER_<SECTION>_<KEY> environment variables. `origin` names the file in errors.
// Throws ConfigError naming the key for: invalid JSON (with line), an unknown key or
// unknown SMS_ROUTER_* variable, a wrong type, an out-of-range value, an unreadable secret file.
Config parse_config(const std::string& json_text, const std::string& origin,
                    const ConfigSources& sources);

// Reads `path` and calls parse_config with the real environment, file system and host name.
// A missing file at the default path is not an error (defaults apply); a missing file the
// user named explicitly is (`explicit_path`).
Config load_config(const std::string& path, bool explicit_path);

// Where the configuration file is: the --config path or $SMS_ROUTER_CONFIG (explicit), or
// the default path. serve reads it again on SIGHUP.
struct ConfigLocation {
  std::string path;
  bool explicit_path = false;
  Config load() const { return load_config(path, explicit_path); }
};

// Whether a reload (SIGHUP) may change a key in the running service.
enum class ReloadRule {
  kApplies,  // the next request uses the new value
  kRestart,  // read once at start: the running value stays in force until a restart
  kPartly,   // read live by some parts and once at start by others (the key's note says which)
};

// Every key by name with its reload rule, in the order check-config prints them.
std::vector<std::pair<std::string, ReloadRule>> config_key_reload_rules();

// What a reload from `running` to `next` does not apply at once, by key name; a kPartly key
// comes with its note ("twilio.auth_token (sending; signatures use the new one)"). The
// running values of kRestart keys are put back into `next`, so that what the service reads
// is what is in force (a sync.postgres_url that appeared by reload would otherwise make user
// writes answer 409 with no sync running).
std::vector<std::string> keep_restart_only(const Config& running, Config& next);

// Checks that the configuration can run `serve` (e.g. an auth token when signatures are
// validated). Throws ConfigError with a one-line message.
void validate_for_serve(const Config& config);

// The effective configuration as pretty JSON, every secret replaced by "********"
// ("" stays ""), for `check-config`.
std::string to_masked_json(const Config& config);

// The list of secret values in the configuration (non-empty ones), so the logger can
// make sure none of them is ever printed.
std::vector<std::string> secret_values(const Config& config);

}  // namespace smsr
