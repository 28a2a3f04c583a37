// docs/CONFIGURATION.md is the operator's reference for every configuration key. These
// tests keep it in step with the code: the keys are taken from the effective configuration
// (`to_masked_json`, what check-config prints) plus the *_file spellings of the secret keys,
// and each must have its own row in the reference table, its name in backticks in the
// first column. A key added to config.cpp without a row fails here; so does a row for a
// key the code no longer has.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "config/config.hpp"

#ifndef SMSR_SOURCE_DIR
#error "SMSR_SOURCE_DIR must name the source tree (set in tests/CMakeLists.txt)"
#endif

namespace {

const std::string kDocument = "docs/CONFIGURATION.md";

// The secret keys that may also be given as "<key>_file" (a path to a file holding the
// value). They do not appear in the effective configuration, so they are listed here.
const std::vector<std::string> kFileKeys = {
    "twilio.auth_token_file",
    "twilio.secondary_auth_token_file",
    "agent.token_file",
    "admin.token_file",
};

std::string read_document() {
  const std::string path = std::string(SMSR_SOURCE_DIR) + "/" + kDocument;
  std::ifstream in(path, std::ios::binary);
  INFO("cannot read " << path);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every key of a default configuration, dotted as in the JSON file: members of a section
// object give "section.key"; a top-level value that is not an object (public_url) is a key
// itself. Values that are objects inside a section (replies.unknown_keywords) are one key.
std::vector<std::string> effective_keys() {
  const auto root = nlohmann::ordered_json::parse(smsr::to_masked_json(smsr::Config{}));
  std::vector<std::string> keys;
  for (const auto& [name, value] : root.items()) {
    if (!value.is_object()) {
      keys.push_back(name);
      continue;
    }
    for (const auto& [member, member_value] : value.items()) keys.push_back(name + "." + member);
  }
  return keys;
}

std::vector<std::string> documented_keys_expected() {
  std::vector<std::string> keys = effective_keys();
  keys.insert(keys.end(), kFileKeys.begin(), kFileKeys.end());
  return keys;
}

// The first cells of the table rows that start with a name in backticks: "| `key` | ...".
std::set<std::string> table_row_names(const std::string& document) {
  std::set<std::string> names;
  std::istringstream lines(document);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    const auto end = line.find('`', 3);
    if (end == std::string::npos) continue;
    if (line.compare(end + 1, 2, " |") != 0) continue;  // the whole cell is one name
    names.insert(line.substr(3, end - 3));
  }
  return names;
}

}  // namespace

TEST_CASE("configuration reference: fails when a configuration key is missing from docs/CONFIGURATION.md",
          "[config][docs]") {
  const std::string document = read_document();
  const std::vector<std::string> keys = documented_keys_expected();
  const std::set<std::string> rows = table_row_names(document);

  // The enumeration itself must see the configuration, or this test would pass on nothing.
  REQUIRE(keys.size() >= 30);
  REQUIRE(std::find(keys.begin(), keys.end(), "public_url") != keys.end());
  REQUIRE(std::find(keys.begin(), keys.end(), "twilio.auth_token") != keys.end());
  REQUIRE(std::find(keys.begin(), keys.end(), "replies.unknown_keywords") != keys.end());

  for (const std::string& key : keys) {
    INFO(kDocument << " has no table row for the key `" << key
                   << "`; add a row starting with | `" << key << "` |");
    CHECK(document.find("`" + key + "`") != std::string::npos);
    CHECK(rows.count(key) == 1);
  }
}

TEST_CASE("configuration reference: every key row in docs/CONFIGURATION.md names a real key",
          "[config][docs]") {
  const std::string document = read_document();
  const std::vector<std::string> keys = documented_keys_expected();
  const std::set<std::string> known(keys.begin(), keys.end());

  // Only the key table is checked: its rows are the ones whose first cell looks like a
  // configuration key (a section name and a dot, or a top-level key). Other tables in the
  // document (central settings, environment examples) use other names on purpose.
  const auto key_section = document.find("\n## Keys");
  REQUIRE(key_section != std::string::npos);
  const auto next_section = document.find("\n## ", key_section + 1);
  const std::string table = document.substr(key_section, next_section - key_section);

  const std::set<std::string> rows = table_row_names(table);
  REQUIRE_FALSE(rows.empty());
  for (const std::string& name : rows) {
    INFO("the key table in " << kDocument << " has a row for `" << name
                             << "`, which is not a configuration key; remove or rename the row");
    CHECK(known.count(name) == 1);
  }
}

TEST_CASE("configuration reference: the reload column says what a reload does with each key",
          "[config][docs]") {
  const std::string document = read_document();
  const auto key_section = document.find("\n## Keys");
  REQUIRE(key_section != std::string::npos);
  const std::string table = document.substr(key_section, document.find("\n## ", key_section + 1) - key_section);

  // The reload cell (the sixth) of each key's row.
  std::map<std::string, std::string> reload_cells;
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::istringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) {
      const auto first = cell.find_first_not_of(' ');
      const auto last = cell.find_last_not_of(' ');
      cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
    }
    if (cells.size() >= 6) reload_cells[cells[0].substr(1, cells[0].size() - 2)] = cells[5];
  }

  const auto rules = smsr::config_key_reload_rules();
  REQUIRE(rules.size() >= 30);
  int restart_only = 0;
  for (const auto& [key, rule] : rules) {
    INFO("key `" << key << "`: its reload cell in " << kDocument << " is \"" << reload_cells[key] << "\"");
    REQUIRE(reload_cells.count(key) == 1);
    const std::string& cell = reload_cells[key];
    switch (rule) {
      case smsr::ReloadRule::kApplies: CHECK(cell == "yes"); break;
      case smsr::ReloadRule::kRestart:
        CHECK(cell == "restart");
        ++restart_only;
        break;
      case smsr::ReloadRule::kPartly:
        CHECK(cell.rfind("yes for ", 0) == 0);
        CHECK(cell.find("restart") != std::string::npos);
        break;
    }
  }
  CHECK(restart_only >= 10);  // the table marks them; a table without marks would pass above
}
