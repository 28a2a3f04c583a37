// The pure parser: JSON text, secret files, credentials and environment variables (all
// given in ConfigSources) → Config, or a ConfigError naming the key. No OS access here.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <string_view>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "config/key_table.hpp"
#include "util/strings.hpp"

namespace smsr {
namespace {

using nlohmann::json;
using namespace config_table;

constexpr std::string_view kConfigPathVariable = "SMS_ROUTER_CONFIG";  // read by the CLI

// ---------------------------------------------------------------------------------------
// Small text helpers
// ---------------------------------------------------------------------------------------

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
    for (const auto& key : keys()) {
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
  return std::any_of(keys().begin(), keys().end(),
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
  for (const auto& key : keys()) {
    if (!key.secret) continue;
    const std::string path = sources.credentials_directory + "/" + std::string(key.name);
    if (const auto content = read_secret_file(sources, path)) {
      store(key, *content, false, path, config);
    }
  }
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

}  // namespace smsr
