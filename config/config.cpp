#include "config/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <numeric>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "util/strings.hpp"

extern char** environ;  // POSIX: the process environment

namespace smsr {
namespace {

using nlohmann::json;

constexpr std::string_view kEnvPrefix = "SMS_ROUTER_";
constexpr std::string_view kConfigPathVariable = "SMS_ROUTER_CONFIG";  // read by the CLI
constexpr std::string_view kMask = "********";
constexpr std::int64_t kUnbounded = std::numeric_limits<std::int64_t>::max();

// ---------------------------------------------------------------------------------------
// The table of keys
// ---------------------------------------------------------------------------------------

// Where a key's value lives inside Config; the pointer's type is the key's type.
using Field = std::variant<std::string*, int*, std::int64_t*, bool*, double*,
                           std::vector<std::string>*, std::map<std::string, std::string>*>;

// The address of config.*m1.*m2..., e.g. field<&Config::twilio, &TwilioConfig::auth_token>.
template <auto... members>
Field field(Config& config) {
  return &(config .* ... .* members);
}

// Thrown by the checks below with a phrase about the value ("must be ..."); store() puts
// the origin and the key in front of it.
class InvalidValue : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Checks a string (or one entry of a string list) and returns it in canonical form.
using StringRule = std::string (*)(std::string value);

std::string http_origin(std::string url);
std::string region_code(std::string region);
std::string e164_number(std::string number);
std::string log_level(std::string level);
std::string admin_token(std::string token);

struct KeyDescriptor {
  std::string_view name;    // dotted, as in the JSON file: "section.key" or "key"
  Field (*field)(Config&);  // where the value is stored
  bool secret = false;      // masked in output; also read from $CREDENTIALS_DIRECTORY
  bool has_file = false;    // "<name>_file" may name a file holding the value instead
  std::int64_t min = std::numeric_limits<std::int64_t>::min();  // numeric keys only
  std::int64_t max = kUnbounded;                                 // numeric keys only
  StringRule rule = nullptr;  // string keys and string-list entries
};

// Every key, in the order check-config prints them. Defaults live in config.hpp.
constexpr KeyDescriptor kKeys[] = {
    {.name = "listen.host", .field = field<&Config::listen, &ListenConfig::host>},
    {.name = "listen.port",  // 0 asks the kernel for a free port (tests use it)
     .field = field<&Config::listen, &ListenConfig::port>, .min = 0, .max = 65535},
    {.name = "public_url", .field = field<&Config::public_url>, .rule = http_origin},
    {.name = "database.path", .field = field<&Config::database, &DatabaseConfig::path>},
    {.name = "database.retention_days", .field = field<&Config::database, &DatabaseConfig::retention_days>,
     .min = 0, .max = 36500},
    {.name = "phone.default_region",
     .field = field<&Config::phone, &PhoneConfig::default_region>, .rule = region_code},
    {.name = "twilio.account_sid", .field = field<&Config::twilio, &TwilioConfig::account_sid>},
    {.name = "twilio.auth_token", .field = field<&Config::twilio, &TwilioConfig::auth_token>,
     .secret = true, .has_file = true},
    {.name = "twilio.secondary_auth_token",
     .field = field<&Config::twilio, &TwilioConfig::secondary_auth_token>,
     .secret = true, .has_file = true},
    {.name = "twilio.validate_signature",
     .field = field<&Config::twilio, &TwilioConfig::validate_signature>},
    {.name = "twilio.numbers", .field = field<&Config::twilio, &TwilioConfig::numbers>,
     .rule = e164_number},
    {.name = "twilio.api_base_url", .field = field<&Config::twilio, &TwilioConfig::api_base_url>,
     .rule = http_origin},
    {.name = "agent.url", .field = field<&Config::agent, &AgentConfig::url>},
    {.name = "agent.token", .field = field<&Config::agent, &AgentConfig::token>,
     .secret = true, .has_file = true},
    {.name = "agent.timeout_ms", .field = field<&Config::agent, &AgentConfig::timeout_ms>,
     .min = 1},
    {.name = "agent.inline_wait_ms", .field = field<&Config::agent, &AgentConfig::inline_wait_ms>,
     .min = 0},
    {.name = "agent.concurrency", .field = field<&Config::agent, &AgentConfig::concurrency>,
     .min = 1, .max = 1024},
    {.name = "agent.max_attempts", .field = field<&Config::agent, &AgentConfig::max_attempts>,
     .min = 1},
    {.name = "agent.history_messages",
     .field = field<&Config::agent, &AgentConfig::history_messages>, .min = 0, .max = 100},
    {.name = "cache.capacity", .field = field<&Config::cache, &CacheConfig::capacity>, .min = 1},
    {.name = "cache.ttl_s", .field = field<&Config::cache, &CacheConfig::ttl_s>, .min = 1},
    {.name = "sync.postgres_url", .field = field<&Config::sync, &SyncConfig::postgres_url>,
     .secret = true},  // may carry a password
    {.name = "sync.interval_s", .field = field<&Config::sync, &SyncConfig::interval_s>, .min = 1},
    {.name = "sync.edge_id", .field = field<&Config::sync, &SyncConfig::edge_id>},
    {.name = "sync.log_retention_days", .field = field<&Config::sync, &SyncConfig::log_retention_days>,
     .min = 1, .max = 3650},
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
     .field = field<&Config::limits, &LimitsConfig::max_body_bytes>, .min = 1024},
    {.name = "spam.enabled", .field = field<&Config::spam, &SpamConfig::enabled>},
    {.name = "spam.threshold", .field = field<&Config::spam, &SpamConfig::threshold>,
     .min = 0, .max = 1},
    {.name = "admin.token", .field = field<&Config::admin, &AdminConfig::token>,
     .secret = true, .has_file = true, .rule = admin_token},
    {.name = "log.level", .field = field<&Config::log, &LogConfig::level>, .rule = log_level},
};

// ---------------------------------------------------------------------------------------
// Small text helpers
// ---------------------------------------------------------------------------------------

std::string in_quotes(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.append(1, '"').append(text).append(1, '"');
  return out;
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

// "" for a top-level key such as "public_url".
std::string_view section_of(std::string_view dotted_name) {
  const auto dot = dotted_name.find('.');
  return dot == std::string_view::npos ? std::string_view() : dotted_name.substr(0, dot);
}

std::string_view member_of(std::string_view dotted_name) {
  return dotted_name.substr(dotted_name.find('.') + 1);  // npos + 1 == 0: the whole name
}

// "twilio.auth_token_file" -> "SMS_ROUTER_TWILIO_AUTH_TOKEN_FILE"
std::string env_name_of(std::string_view dotted_name) {
  std::string name = std::string(kEnvPrefix) + upper_cased(dotted_name);
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The candidate a typo most likely meant, if any is close enough to suggest.
std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string>& candidates) {
  constexpr std::size_t kMaxTypoDistance = 2;
  std::optional<std::string> best;
  std::size_t best_distance = kMaxTypoDistance + 1;
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(lower_cased(word), lower_cased(candidate));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

[[noreturn]] void fail(std::string_view origin, std::string_view message) {
  throw ConfigError(std::string(origin) + ": " + std::string(message));
}

// ---------------------------------------------------------------------------------------
// Rules for string values
// ---------------------------------------------------------------------------------------

bool valid_port(std::string_view port) {
  int number = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
  return all_digits(port) && error == std::errc() && end == port.data() + port.size() &&
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
  const bool e164 = number.starts_with('+') && all_digits(digits) && digits.front() != '0' &&
                    digits.size() >= 7 && digits.size() <= 15;
  if (!e164) {
    throw InvalidValue("must list E.164 numbers such as +15551234567, got " + in_quotes(number));
  }
  return number;
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
// Checking and storing one value
// ---------------------------------------------------------------------------------------

// The JSON type of a value, for "got ..." in messages. Values are never echoed here
// because the key may be a secret.
std::string type_of(const json& value) {
  return value.is_number_float() ? "floating-point number" : value.type_name();
}

std::string range_violation(const KeyDescriptor& key, std::int64_t min, std::int64_t max,
                            bool too_small, const std::string& got) {
  std::string allowed;
  if (key.max != kUnbounded) {
    allowed = "must be between " + std::to_string(min) + " and " + std::to_string(max);
  } else if (too_small) {
    allowed = "must be at least " + std::to_string(min);
  } else {
    allowed = "must be at most " + std::to_string(max);
  }
  return allowed + ", got " + got;
}

template <typename Integer>
void assign_integer(Integer* target, const json& value, const KeyDescriptor& key) {
  if (!value.is_number_integer()) throw InvalidValue("must be an integer, got " + type_of(value));
  const std::int64_t min = std::max<std::int64_t>(key.min, std::numeric_limits<Integer>::min());
  const std::int64_t max = std::min<std::int64_t>(key.max, std::numeric_limits<Integer>::max());
  // Non-negative JSON integers arrive unsigned; past int64 they fit no key.
  const bool beyond_int64 = value.is_number_unsigned() &&
                            value.get<std::uint64_t>() > static_cast<std::uint64_t>(kUnbounded);
  const std::int64_t number = beyond_int64 ? kUnbounded : value.get<std::int64_t>();
  if (beyond_int64 || number < min || number > max) {
    throw InvalidValue(range_violation(key, min, max, number < min, value.dump()));
  }
  *target = static_cast<Integer>(number);
}

void assign(int* target, const json& value, const KeyDescriptor& key) {
  assign_integer(target, value, key);
}

void assign(std::int64_t* target, const json& value, const KeyDescriptor& key) {
  assign_integer(target, value, key);
}

void assign(double* target, const json& value, const KeyDescriptor& key) {
  if (!value.is_number()) throw InvalidValue("must be a number, got " + type_of(value));
  const double number = value.get<double>();
  const bool in_range = number >= static_cast<double>(key.min) &&
                        number <= static_cast<double>(key.max);
  if (!in_range) {
    const bool too_small = number < static_cast<double>(key.min);
    throw InvalidValue(range_violation(key, key.min, key.max, too_small, value.dump()));
  }
  *target = number;
}

// 0 and 1 are refused: a typo like "validate_signature": 0 must not pass as a decision.
void assign(bool* target, const json& value, const KeyDescriptor&) {
  if (!value.is_boolean()) throw InvalidValue("must be true or false, got " + type_of(value));
  *target = value.get<bool>();
}

void assign(std::string* target, const json& value, const KeyDescriptor& key) {
  if (!value.is_string()) throw InvalidValue("must be a string, got " + type_of(value));
  std::string text = value.get<std::string>();
  *target = key.rule ? key.rule(std::move(text)) : std::move(text);
}

void assign(std::vector<std::string>* target, const json& value, const KeyDescriptor& key) {
  const auto not_string = [](const json& entry) { return !entry.is_string(); };
  if (!value.is_array()) throw InvalidValue("must be an array of strings, got " + type_of(value));
  if (std::any_of(value.begin(), value.end(), not_string)) {
    throw InvalidValue("must be an array of strings, got an array holding other values");
  }
  std::vector<std::string> entries;
  for (const auto& entry : value) {
    std::string text = entry.get<std::string>();
    entries.push_back(key.rule ? key.rule(std::move(text)) : std::move(text));
  }
  *target = std::move(entries);
}

// The only map is replies.unknown_keywords: keys are keywords, matched trimmed and
// case-insensitively, so they are stored trimmed and upper-cased.
void assign(std::map<std::string, std::string>* target, const json& value, const KeyDescriptor&) {
  if (!value.is_object()) {
    throw InvalidValue("must be an object of keyword to reply text, got " + type_of(value));
  }
  std::map<std::string, std::string> keywords;
  for (const auto& [keyword, reply] : value.items()) {
    if (!reply.is_string()) {
      throw InvalidValue("must map each keyword to a string, got " + type_of(reply) + " for " +
                         in_quotes(keyword));
    }
    const std::string normalised = upper_cased(trim(keyword));
    if (normalised.empty()) throw InvalidValue("must not have an empty keyword");
    if (!keywords.emplace(normalised, reply.get<std::string>()).second) {
      throw InvalidValue("has the keyword " + in_quotes(normalised) +
                         " twice (keywords ignore case and surrounding spaces)");
    }
  }
  *target = std::move(keywords);
}

// Environment variables are text; these turn the text into the JSON value the key takes,
// so that one set of checks serves the file and the environment. The pointer argument
// only selects the key's type.

std::optional<json> parse_json_fragment(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

json from_text(const std::string*, const std::string& text) { return text; }

// Digits with an optional minus sign, nothing else: " 5", "+5" and "5.0" are refused.
json integer_from_text(const std::string& text) {
  std::int64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error == std::errc::result_out_of_range) {
    throw InvalidValue("is out of range, got " + in_quotes(text));
  }
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    throw InvalidValue("must be an integer, got " + in_quotes(text));
  }
  return number;
}

json from_text(const int*, const std::string& text) { return integer_from_text(text); }

json from_text(const std::int64_t*, const std::string& text) { return integer_from_text(text); }

json from_text(const double*, const std::string& text) {
  double number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  const bool whole_text = !text.empty() && error == std::errc() && end == text.data() + text.size();
  if (!whole_text || !std::isfinite(number)) {
    throw InvalidValue("must be a number, got " + in_quotes(text));
  }
  return number;
}

json from_text(const bool*, const std::string& text) {
  if (auto value = parse_bool(text)) return *value;
  const std::string word = lower_cased(text);
  if (word == "yes") return true;
  if (word == "no") return false;
  throw InvalidValue("must be true/false, 1/0 or yes/no, got " + in_quotes(text));
}

// A JSON array, or the friendlier comma-separated list: "+15551230001, +15551230002".
json from_text(const std::vector<std::string>*, const std::string& text) {
  if (trim(text).starts_with('[')) {
    if (auto array = parse_json_fragment(text)) return *array;
    throw InvalidValue("must be a JSON array of strings or a comma-separated list");
  }
  json entries = json::array();
  for (std::size_t start = 0; start <= text.size();) {
    const auto comma = std::min(text.find(',', start), text.size());
    if (std::string entry(trim(std::string_view(text).substr(start, comma - start)));
        !entry.empty()) {
      entries.push_back(std::move(entry));
    }
    start = comma + 1;
  }
  return entries;
}

json from_text(const std::map<std::string, std::string>*, const std::string& text) {
  if (auto object = parse_json_fragment(text)) return *object;
  throw InvalidValue("must be a JSON object such as {\"HELP\": \"Reply text\"}");
}

// Checks `value` for `key` and stores it; errors name the origin and the key. `is_text`
// marks a value from the environment, still to be read as the key's type.
void store(const KeyDescriptor& key, const json& value, bool is_text, std::string_view origin,
           Config& config) {
  try {
    std::visit(
        [&](auto* target) {
          assign(target, is_text ? from_text(target, value.get<std::string>()) : value, key);
        },
        key.field(config));
  } catch (const InvalidValue& e) {
    fail(origin, in_quotes(key.name) + " " + e.what());
  }
}

// ---------------------------------------------------------------------------------------
// Sources: the JSON file, secret files, credentials, the environment
// ---------------------------------------------------------------------------------------

// A name a user may write for a key: the key itself, or "<key>_file" naming a file that
// holds its value.
struct Spelling {
  std::string name;      // as in the JSON file
  std::string env_name;  // as in the environment
  const KeyDescriptor* key;
  bool via_file;
};

const std::vector<Spelling>& spellings() {
  static const std::vector<Spelling> all = [] {
    std::vector<Spelling> result;
    for (const auto& key : kKeys) {
      const std::string name(key.name);
      result.push_back({name, env_name_of(name), &key, false});
      if (key.has_file) result.push_back({name + "_file", env_name_of(name + "_file"), &key, true});
    }
    return result;
  }();
  return all;
}

const Spelling* find_spelling(std::string_view name) {
  for (const auto& spelling : spellings()) {
    if (spelling.name == name) return &spelling;
  }
  return nullptr;
}

const Spelling* find_env_spelling(std::string_view env_name) {
  for (const auto& spelling : spellings()) {
    if (spelling.env_name == env_name) return &spelling;
  }
  return nullptr;
}

bool is_section(std::string_view name) {
  return std::any_of(std::begin(kKeys), std::end(kKeys),
                     [&](const KeyDescriptor& key) { return section_of(key.name) == name; });
}

// What may appear inside `section`, or at the top level (sections included) for "".
std::vector<std::string> names_in(std::string_view section) {
  std::vector<std::string> names;
  for (const auto& spelling : spellings()) {
    const std::string_view key_section = section_of(spelling.name);
    if (key_section == section) {
      names.push_back(spelling.name);
    } else if (section.empty() &&
               std::find(names.begin(), names.end(), key_section) == names.end()) {
      names.emplace_back(key_section);
    }
  }
  return names;
}

std::string unknown_key(const std::string& name, std::string_view section) {
  if (const auto suggestion = closest(name, names_in(section))) {
    return "unknown key " + in_quotes(name) + " (did you mean " + in_quotes(*suggestion) + "?)";
  }
  return "unknown key " + in_quotes(name) + "; remove it or correct its name";
}

// One value for one key from one source, before it is checked and stored.
struct Setting {
  const Spelling* spelling;
  json value;
  bool is_text;        // an environment variable's text, not yet read as the key's type
  std::string origin;  // the file, or "environment variable NAME"
};

// The key a source gives both directly and through "<key>_file", if any.
const KeyDescriptor* given_twice(const std::vector<Setting>& settings) {
  for (const auto& a : settings) {
    for (const auto& b : settings) {
      if (a.spelling->key == b.spelling->key && a.spelling->via_file != b.spelling->via_file) {
        return a.spelling->key;
      }
    }
  }
  return nullptr;
}

// 1-based line and column of the 1-based byte position nlohmann reports.
std::pair<std::size_t, std::size_t> line_and_column(std::string_view text, std::size_t byte) {
  const std::string_view before = text.substr(0, std::min(byte > 0 ? byte - 1 : 0, text.size()));
  const auto newlines = std::count(before.begin(), before.end(), '\n');
  const std::size_t line = 1 + static_cast<std::size_t>(newlines);
  const auto last_newline = before.rfind('\n');
  const std::size_t column =
      before.size() - (last_newline == std::string_view::npos ? 0 : last_newline + 1) + 1;
  return {line, column};
}

// The library's explanation without its id, its own position, or the "last read" excerpt,
// which could show part of a secret.
std::string parse_failure_reason(const json::exception& error) {
  std::string_view reason = error.what();
  if (const auto id_end = reason.find("] "); id_end != std::string_view::npos) {
    reason.remove_prefix(id_end + 2);
  }
  if (reason.starts_with("parse error")) {
    if (const auto colon = reason.find(": "); colon != std::string_view::npos) {
      reason.remove_prefix(colon + 2);
    }
  }
  return std::string(reason.substr(0, reason.find("; last read")));
}

json parse_json_text(const std::string& text, std::string_view origin) {
  if (text.find_first_not_of(kAsciiWhitespace) == std::string::npos) return json::object();
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    const auto [line, column] = line_and_column(text, e.byte);
    fail(origin, "invalid JSON at line " + std::to_string(line) + ", column " +
                     std::to_string(column) + ": " + parse_failure_reason(e));
  } catch (const json::exception& e) {
    fail(origin, "invalid JSON: " + parse_failure_reason(e));
  }
}

std::vector<Setting> settings_from_file(const json& root, const std::string& origin) {
  if (!root.is_object()) fail(origin, "the top level must be a JSON object, got " + type_of(root));
  std::vector<Setting> settings;
  for (const auto& [name, value] : root.items()) {
    if (section_of(name).empty()) {
      if (const Spelling* spelling = find_spelling(name)) {
        settings.push_back({spelling, value, false, origin});
        continue;
      }
    }
    if (!is_section(name)) fail(origin, unknown_key(name, ""));
    if (!value.is_object()) {
      fail(origin, in_quotes(name) + " must be an object holding its keys, got " + type_of(value));
    }
    for (const auto& [member, member_value] : value.items()) {
      const std::string dotted = name + "." + member;
      const Spelling* spelling = find_spelling(dotted);
      if (spelling == nullptr) fail(origin, unknown_key(dotted, name));
      settings.push_back({spelling, member_value, false, origin});
    }
  }
  if (const KeyDescriptor* key = given_twice(settings)) {
    const std::string name(key->name);
    fail(origin, "both " + in_quotes(name) + " and " + in_quotes(name + "_file") +
                     " are set; keep one");
  }
  return settings;
}

std::vector<Setting> settings_from_environment(const std::map<std::string, std::string>& env) {
  std::vector<Setting> settings;
  for (const auto& [name, text] : env) {
    if (!name.starts_with(kEnvPrefix) || name == kConfigPathVariable) continue;
    const Spelling* spelling = find_env_spelling(name);
    if (spelling == nullptr) {
      std::vector<std::string> known;
      for (const auto& candidate : spellings()) known.push_back(candidate.env_name);
      const auto suggestion = closest(name, known);
      throw ConfigError("environment variable " + name + " names no configuration key" +
                        (suggestion ? " (did you mean " + *suggestion + "?)" : "") +
                        "; unset it or correct its name");
    }
    settings.push_back({spelling, text, true, "environment variable " + name});
  }
  if (const KeyDescriptor* key = given_twice(settings)) {
    const std::string env_name = env_name_of(key->name);
    throw ConfigError("environment: both " + env_name + " and " + env_name +
                      "_FILE are set; unset one");
  }
  return settings;
}

// A secret file's content without the trailing newline editors and `echo` add.
std::optional<std::string> read_secret_file(const ConfigSources& sources, const std::string& path) {
  if (!sources.read_file) return std::nullopt;
  std::optional<std::string> content = sources.read_file(path);
  if (content) content->erase(content->find_last_not_of("\r\n") + 1);  // npos + 1 == 0
  return content;
}

void apply(const Setting& setting, const ConfigSources& sources, Config& config) {
  const KeyDescriptor& key = *setting.spelling->key;
  if (!setting.spelling->via_file) {
    store(key, setting.value, setting.is_text, setting.origin, config);
    return;
  }
  if (!setting.value.is_string()) {
    fail(setting.origin, in_quotes(setting.spelling->name) +
                             " must be a file path (a string), got " + type_of(setting.value));
  }
  const std::string path = setting.value.get<std::string>();
  const std::optional<std::string> content = read_secret_file(sources, path);
  if (!content) {
    fail(setting.origin, in_quotes(setting.spelling->name) + ": cannot read " + in_quotes(path) +
                             "; check that it exists and the service user may read it");
  }
  store(key, *content, false, path, config);
}

// systemd's LoadCredential= puts each secret in $CREDENTIALS_DIRECTORY/<dotted key name>.
void apply_credentials(const ConfigSources& sources, Config& config) {
  if (sources.credentials_directory.empty()) return;
  for (const auto& key : kKeys) {
    if (!key.secret) continue;
    const std::string path = sources.credentials_directory + "/" + std::string(key.name);
    if (const auto content = read_secret_file(sources, path)) {
      store(key, *content, false, path, config);
    }
  }
}

// ---------------------------------------------------------------------------------------
// The real process environment, for load_config
// ---------------------------------------------------------------------------------------

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// The whole file, or nullopt with errno telling why not.
std::optional<std::string> read_whole_file(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return std::nullopt;
  std::string text;
  char buffer[8192];
  while (const std::size_t count = std::fread(buffer, 1, sizeof buffer, file.get())) {
    text.append(buffer, count);
  }
  const bool failed = std::ferror(file.get()) != 0;
  const int read_error = errno;
  file.reset();  // fclose may overwrite errno
  if (failed) {
    errno = read_error;
    return std::nullopt;
  }
  return text;
}

std::map<std::string, std::string> router_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view variable(*entry);
    const auto equals = variable.find('=');
    if (!variable.starts_with(kEnvPrefix) || equals == std::string_view::npos) continue;
    env.emplace(variable.substr(0, equals), variable.substr(equals + 1));
  }
  return env;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

ConfigSources system_sources() {
  ConfigSources sources;
  sources.env = router_environment();
  sources.read_file = read_whole_file;
  if (const char* directory = std::getenv("CREDENTIALS_DIRECTORY")) {
    sources.credentials_directory = directory;
  }
  sources.host_name = host_name();
  return sources;
}

// The table hands out mutable pointers, so read-only uses work on a copy.
const std::string& secret_text(const KeyDescriptor& key, Config& config) {
  return *std::get<std::string*>(key.field(config));
}

}  // namespace

Config parse_config(const std::string& json_text, const std::string& origin,
                    const ConfigSources& sources) {
  Config config;
  for (const auto& setting : settings_from_file(parse_json_text(json_text, origin), origin)) {
    apply(setting, sources, config);
  }
  apply_credentials(sources, config);
  for (const auto& setting : settings_from_environment(sources.env)) {
    apply(setting, sources, config);
  }
  if (config.sync.edge_id.empty()) config.sync.edge_id = sources.host_name;
  return config;
}

Config load_config(const std::string& path, bool explicit_path) {
  std::optional<std::string> text = read_whole_file(path);
  if (!text) {
    const int error = errno;
    if (error != ENOENT || explicit_path) {
      throw ConfigError("cannot read config file " + path + ": " +
                        std::generic_category().message(error) +
                        "; pass --config FILE or create it");
    }
    text.emplace();  // no file at the default path: every key keeps its default
  }
  return parse_config(*text, path, system_sources());
}

void validate_for_serve(const Config& config) {
  const TwilioConfig& twilio = config.twilio;
  if (twilio.validate_signature && twilio.auth_token.empty()) {
    throw ConfigError(
        "twilio.auth_token is not set: signatures cannot be checked; set it (or "
        "twilio.auth_token_file, or SMS_ROUTER_TWILIO_AUTH_TOKEN), or set "
        "twilio.validate_signature=false for local experiments only");
  }
  if (!twilio.secondary_auth_token.empty() && twilio.auth_token.empty()) {
    throw ConfigError(
        "twilio.secondary_auth_token is set but twilio.auth_token is not: the secondary token "
        "only accompanies the current one during rotation; set twilio.auth_token too");
  }
}

std::string to_masked_json(const Config& config) {
  Config copy = config;
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& key : kKeys) {
    nlohmann::ordered_json value =
        std::visit([](const auto* target) { return nlohmann::ordered_json(*target); },
                   key.field(copy));
    if (key.secret && !secret_text(key, copy).empty()) value = kMask;
    const std::string section(section_of(key.name));
    const std::string member(member_of(key.name));
    (section.empty() ? out[member] : out[section][member]) = std::move(value);
  }
  // A value from the environment need not be valid UTF-8; show it rather than throw.
  return out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::vector<std::string> secret_values(const Config& config) {
  Config copy = config;
  std::vector<std::string> values;
  for (const auto& key : kKeys) {
    if (key.secret && !secret_text(key, copy).empty()) values.push_back(secret_text(key, copy));
  }
  return values;
}

}  // namespace smsr
