// The table of configuration keys: where each value lives in Config, how it is checked,
// whether it is secret, and whether a reload may change it. Internal to config/: the parser
// (parse.cpp), masking and the reload rule (key_table.cpp) read it; other modules see
// config.hpp only.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.hpp"

namespace smsr::config_table {

// Where a key's value lives inside Config; the pointer's type is the key's type.
using Field = std::variant<std::string*, int*, std::int64_t*, bool*, double*,
                           std::vector<std::string>*, std::map<std::string, std::string>*>;

// The address of config.*m1.*m2..., e.g. field<&Config::twilio, &TwilioConfig::auth_token>.
template <auto... members>
Field field(Config& config) {
  return &(config .* ... .* members);
}

// Thrown by the checks of values with a phrase about the value ("must be ..."); the parser
// puts the origin and the key in front of it.
class InvalidValue : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Checks a string (or one entry of a string list) and returns it in canonical form.
using StringRule = std::string (*)(std::string value);

inline constexpr std::int64_t kUnbounded = std::numeric_limits<std::int64_t>::max();

struct KeyDescriptor {
  std::string_view name;    // dotted, as in the JSON file: "section.key" or "key"
  Field (*field)(Config&);  // where the value is stored
  bool secret = false;      // masked in output; also read from $CREDENTIALS_DIRECTORY
  bool has_file = false;    // "<name>_file" may name a file holding the value instead
  std::int64_t min = std::numeric_limits<std::int64_t>::min();  // numeric keys only
  std::int64_t max = kUnbounded;                                 // numeric keys only
  StringRule rule = nullptr;  // string keys and string-list entries
  ReloadRule reload = ReloadRule::kApplies;
  std::string_view restart_note = {};  // kPartly: what only a restart changes
};

// Every key, in the order check-config prints them. Defaults live in config.hpp.
std::span<const KeyDescriptor> keys();

// "text" with double quotes around it, for messages about a value.
std::string in_quotes(std::string_view text);

// "" for a top-level key such as "public_url"; "twilio" for "twilio.auth_token".
std::string_view section_of(std::string_view dotted_name);
// "auth_token" for "twilio.auth_token"; the whole name for a top-level key.
std::string_view member_of(std::string_view dotted_name);

}  // namespace smsr::config_table
