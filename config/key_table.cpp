#include "config/key_table.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "util/strings.hpp"

namespace smsr {
namespace config_table {
namespace {

constexpr std::string_view kMask = "********";

// ---------------------------------------------------------------------------------------
// Rules for string values
// ---------------------------------------------------------------------------------------

bool valid_port(std::string_view port) {
  int number = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
  return is_digits(port) && error == std::errc() && end == port.data() + port.size() &&
         number >= 1 && number <= 65535;
}

// scheme://host[:port], as Twilio sees the router; one trailing "/" is dropped so that
// appending a path never doubles the slash.
std::string http_origin(std::string url) {
  const std::string_view scheme = url.starts_with("https://") ? "https://"
                                  : url.starts_with("http://") ? "http://"
                                                               : "";
  if (scheme.empty()) {
    throw InvalidValue("must start with http:// or https://, got " + in_quotes(url));
  }
  std::string_view authority = std::string_view(url).substr(scheme.size());
  if (authority.ends_with('/')) authority.remove_suffix(1);
  if (authority.empty() || authority.front() == ':') {
    throw InvalidValue("must name a host, like https://sms.example.org, got " + in_quotes(url));
  }
  if (authority.find_first_of("/?#@ \t") != std::string_view::npos) {
    throw InvalidValue("must be scheme://host[:port] with no path, query or user, got " +
                       in_quotes(url));
  }
  const auto colon = authority.rfind(':');
  const auto bracket = authority.rfind(']');  // an IPv6 literal such as [::1] has colons too
  const bool has_port = colon != std::string_view::npos &&
                        (bracket == std::string_view::npos || colon > bracket);
  if (has_port && !valid_port(authority.substr(colon + 1))) {
    throw InvalidValue("has an invalid port (1 to 65535), got " + in_quotes(url));
  }
  if (url.ends_with('/')) url.pop_back();
  return url;
}

// Only the shape is checked here; the phone module knows which regions exist.
std::string region_code(std::string region) {
  const auto upper_letter = [](char c) { return c >= 'A' && c <= 'Z'; };
  if (region.size() != 2 || !std::all_of(region.begin(), region.end(), upper_letter)) {
    throw InvalidValue("must be two upper-case letters such as US or GB, got " + in_quotes(region));
  }
  return region;
}

std::string e164_number(std::string number) {
  const std::string_view digits = std::string_view(number).substr(number.empty() ? 0 : 1);
  const bool e164 = number.starts_with('+') && is_digits(digits) && digits.front() != '0' &&
                    digits.size() >= 7 && digits.size() <= 15;
  if (!e164) {
    throw InvalidValue("must list E.164 numbers such as +15551234567, got " + in_quotes(number));
  }
  return number;
}

// An IPv4 (dotted) or IPv6 address; the server compares peers with it in this form.
std::string ip_address(std::string address) {
  unsigned char buffer[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, address.c_str(), buffer) == 1) return address;
  if (inet_pton(AF_INET6, address.c_str(), buffer) == 1) return address;
  throw InvalidValue("must list IP addresses such as 127.0.0.1 or ::1, got " + in_quotes(address));
}

std::string log_level(std::string level) {
  if (level != "debug" && level != "info" && level != "warn" && level != "error") {
    throw InvalidValue("must be one of debug, info, warn, error, got " + in_quotes(level));
  }
  return level;
}

// Never echoes the token: the message goes to stderr and the journal.
std::string admin_token(std::string token) {
  constexpr std::size_t kMinLength = 32;
  if (!token.empty() && token.size() < kMinLength) {
    throw InvalidValue("must be at least " + std::to_string(kMinLength) +
                       " characters long (it has " + std::to_string(token.size()) +
                       "); generate one with: openssl rand -hex 32");
  }
  return token;
}

// ---------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------

constexpr KeyDescriptor kKeys[] = {
    {.name = "listen.host", .field = field<&Config::listen, &ListenConfig::host>,
     .reload = ReloadRule::kRestart},
    {.name = "listen.port",  // 0 asks the kernel for a free port (tests use it)
     .field = field<&Config::listen, &ListenConfig::port>, .min = 0, .max = 65535,
     .reload = ReloadRule::kRestart},
    {.name = "listen.tls_cert_file", .field = field<&Config::listen, &ListenConfig::tls_cert_file>},
    {.name = "listen.tls_key_file", .field = field<&Config::listen, &ListenConfig::tls_key_file>},
    {.name = "listen.io_threads", .field = field<&Config::listen, &ListenConfig::io_threads>,
     .min = 0, .max = 256, .reload = ReloadRule::kRestart},
    {.name = "listen.trusted_proxies", .field = field<&Config::listen, &ListenConfig::trusted_proxies>,
     .rule = ip_address},
    {.name = "public_url", .field = field<&Config::public_url>, .rule = http_origin},
    {.name = "database.path", .field = field<&Config::database, &DatabaseConfig::path>,
     .reload = ReloadRule::kRestart},
    {.name = "database.retention_days", .field = field<&Config::database, &DatabaseConfig::retention_days>,
     .min = 0, .max = 36500},
    {.name = "phone.default_region",
     .field = field<&Config::phone, &PhoneConfig::default_region>, .rule = region_code,
     .reload = ReloadRule::kRestart},
    {.name = "twilio.account_sid", .field = field<&Config::twilio, &TwilioConfig::account_sid>,
     .reload = ReloadRule::kPartly, .restart_note = "sending"},
    {.name = "twilio.auth_token", .field = field<&Config::twilio, &TwilioConfig::auth_token>,
     .secret = true, .has_file = true,
     .reload = ReloadRule::kPartly, .restart_note = "sending; signatures use the new one"},
    {.name = "twilio.secondary_auth_token",
     .field = field<&Config::twilio, &TwilioConfig::secondary_auth_token>,
     .secret = true, .has_file = true},
    {.name = "twilio.validate_signature",
     .field = field<&Config::twilio, &TwilioConfig::validate_signature>},
    {.name = "twilio.numbers", .field = field<&Config::twilio, &TwilioConfig::numbers>,
     .rule = e164_number},
    {.name = "twilio.api_base_url", .field = field<&Config::twilio, &TwilioConfig::api_base_url>,
     .rule = http_origin,
     .reload = ReloadRule::kRestart},
    {.name = "agent.url", .field = field<&Config::agent, &AgentConfig::url>,
     .reload = ReloadRule::kRestart},
    {.name = "agent.token", .field = field<&Config::agent, &AgentConfig::token>,
     .secret = true, .has_file = true,
     .reload = ReloadRule::kRestart},
    {.name = "agent.timeout_ms", .field = field<&Config::agent, &AgentConfig::timeout_ms>,
     .min = 1},
    {.name = "agent.inline_wait_ms", .field = field<&Config::agent, &AgentConfig::inline_wait_ms>,
     .min = 0},
    {.name = "agent.concurrency", .field = field<&Config::agent, &AgentConfig::concurrency>,
     .min = 1, .max = 1024,
     .reload = ReloadRule::kRestart},
    {.name = "agent.max_attempts", .field = field<&Config::agent, &AgentConfig::max_attempts>,
     .min = 1},
    {.name = "agent.history_messages",
     .field = field<&Config::agent, &AgentConfig::history_messages>, .min = 0, .max = 100},
    {.name = "cache.capacity", .field = field<&Config::cache, &CacheConfig::capacity>, .min = 1,
     .reload = ReloadRule::kRestart},
    {.name = "cache.ttl_s", .field = field<&Config::cache, &CacheConfig::ttl_s>, .min = 1},
    {.name = "sync.postgres_url", .field = field<&Config::sync, &SyncConfig::postgres_url>,
     .secret = true,
     .reload = ReloadRule::kRestart},  // may carry a password
    {.name = "sync.interval_s", .field = field<&Config::sync, &SyncConfig::interval_s>, .min = 1,
     .reload = ReloadRule::kRestart},
    {.name = "sync.edge_id", .field = field<&Config::sync, &SyncConfig::edge_id>,
     .reload = ReloadRule::kRestart},
    {.name = "sync.log_retention_days", .field = field<&Config::sync, &SyncConfig::log_retention_days>,
     .min = 1, .max = 3650,
     .reload = ReloadRule::kRestart},
    {.name = "replies.unknown_sender",
     .field = field<&Config::replies, &RepliesConfig::unknown_sender>},
    {.name = "replies.unknown_keywords",
     .field = field<&Config::replies, &RepliesConfig::unknown_keywords>},
    {.name = "replies.inactive_user",
     .field = field<&Config::replies, &RepliesConfig::inactive_user>},
    {.name = "replies.error", .field = field<&Config::replies, &RepliesConfig::error>},
    {.name = "limits.per_sender_per_minute",
     .field = field<&Config::limits, &LimitsConfig::per_sender_per_minute>, .min = 0},
    {.name = "limits.unknown_sender_replies_per_day",
     .field = field<&Config::limits, &LimitsConfig::unknown_sender_replies_per_day>, .min = 0},
    {.name = "limits.max_message_chars", .field = field<&Config::limits, &LimitsConfig::max_message_chars>,
     .min = 160, .max = 1600},
    {.name = "limits.max_body_bytes",  // Twilio's webhook forms alone approach 1 KiB
     .field = field<&Config::limits, &LimitsConfig::max_body_bytes>, .min = 1024, .max = 64 * 1024 * 1024},
    {.name = "limits.max_connections", .field = field<&Config::limits, &LimitsConfig::max_connections>,
     .min = 1, .max = 1000000},
    {.name = "limits.max_connections_per_client",
     .field = field<&Config::limits, &LimitsConfig::max_connections_per_client>, .min = 0, .max = 1000000},
    {.name = "limits.header_timeout_ms", .field = field<&Config::limits, &LimitsConfig::header_timeout_ms>,
     .min = 100, .max = 600000},
    {.name = "limits.body_timeout_ms", .field = field<&Config::limits, &LimitsConfig::body_timeout_ms>,
     .min = 100, .max = 600000},
    {.name = "limits.idle_timeout_s", .field = field<&Config::limits, &LimitsConfig::idle_timeout_s>,
     .min = 1, .max = 86400},
    {.name = "spam.enabled", .field = field<&Config::spam, &SpamConfig::enabled>},
    {.name = "spam.threshold", .field = field<&Config::spam, &SpamConfig::threshold>,
     .min = 0, .max = 1},
    {.name = "admin.token", .field = field<&Config::admin, &AdminConfig::token>,
     .secret = true, .has_file = true, .rule = admin_token},
    {.name = "log.level", .field = field<&Config::log, &LogConfig::level>, .rule = log_level},
};

// The table hands out mutable pointers, so read-only uses work on a copy.
const std::string& secret_text(const KeyDescriptor& key, Config& config) {
  return *std::get<std::string*>(key.field(config));
}

}  // namespace

std::span<const KeyDescriptor> keys() { return kKeys; }

std::string in_quotes(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.append(1, '"').append(text).append(1, '"');
  return out;
}

std::string_view section_of(std::string_view dotted_name) {
  const auto dot = dotted_name.find('.');
  return dot == std::string_view::npos ? std::string_view() : dotted_name.substr(0, dot);
}

std::string_view member_of(std::string_view dotted_name) {
  return dotted_name.substr(dotted_name.find('.') + 1);  // npos + 1 == 0: the whole name
}

}  // namespace config_table

using config_table::KeyDescriptor;
using config_table::keys;

std::vector<std::pair<std::string, ReloadRule>> config_key_reload_rules() {
  std::vector<std::pair<std::string, ReloadRule>> rules;
  for (const auto& key : keys()) rules.emplace_back(key.name, key.reload);
  return rules;
}

std::vector<std::string> keep_restart_only(const Config& running, Config& next) {
  Config in_force = running;  // the table hands out mutable pointers
  std::vector<std::string> changed;
  for (const auto& key : keys()) {
    if (key.reload == ReloadRule::kApplies) continue;
    const bool same = std::visit(
        [&](auto* next_value) {
          auto* running_value = std::get<std::remove_reference_t<decltype(next_value)>>(key.field(in_force));
          if (*next_value == *running_value) return true;
          if (key.reload == ReloadRule::kRestart) *next_value = *running_value;
          return false;
        },
        key.field(next));
    if (same) continue;
    std::string name(key.name);
    if (!key.restart_note.empty()) name += " (" + std::string(key.restart_note) + ")";
    changed.push_back(std::move(name));
  }
  return changed;
}

std::string to_masked_json(const Config& config) {
  Config copy = config;
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& key : keys()) {
    nlohmann::ordered_json value =
        std::visit([](const auto* target) { return nlohmann::ordered_json(*target); },
                   key.field(copy));
    if (key.secret && !config_table::secret_text(key, copy).empty()) value = config_table::kMask;
    const std::string section(config_table::section_of(key.name));
    const std::string member(config_table::member_of(key.name));
    (section.empty() ? out[member] : out[section][member]) = std::move(value);
  }
  // A value from the environment need not be valid UTF-8; show it rather than throw.
  return out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::vector<std::string> secret_values(const Config& config) {
  Config copy = config;
  std::vector<std::string> values;
  for (const auto& key : keys()) {
    if (key.secret && !config_table::secret_text(key, copy).empty()) values.push_back(config_table::secret_text(key, copy));
  }
  return values;
}

}  // namespace smsr
