#include "app/routing/user_import.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "util/csv.hpp"
#include "util/strings.hpp"

namespace smsr {
namespace {

const std::vector<std::string> kColumns = {"phone_number", "id",        "email",
                                           "full_name",    "is_active", "extra_phone_numbers"};

std::optional<UserId> parse_id(const std::string& text) {
  UserId id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) return std::nullopt;
  return id;
}

std::vector<std::string> split_numbers(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(';', start);
    if (end == std::string::npos) end = text.size();
    std::string part(trim(std::string_view(text).substr(start, end - start)));
    if (!part.empty()) out.push_back(part);
    start = end + 1;
  }
  return out;
}

}  // namespace

ImportPlan plan_import(const std::string& csv_text, const PhoneNormalizer& normalizer) {
  ImportPlan plan;
  std::string error;
  auto records = parse_csv(csv_text, error);
  if (!records) {
    plan.problems.push_back({0, error});
    return plan;
  }
  if (records->empty()) {
    plan.problems.push_back({0, "the file is empty; expected a header row with phone_number"});
    return plan;
  }

  std::map<std::string, std::size_t> column;  // name -> index
  const auto& header = records->front();
  for (std::size_t i = 0; i < header.fields.size(); ++i) {
    auto name = lower_cased(trim(header.fields[i]));
    if (std::find(kColumns.begin(), kColumns.end(), name) == kColumns.end()) {
      plan.problems.push_back({header.line, "unknown column \"" + std::string(trim(header.fields[i])) +
                                                "\"; known columns: phone_number, id, email, "
                                                "full_name, is_active, extra_phone_numbers"});
    } else if (!column.emplace(name, i).second) {
      plan.problems.push_back({header.line, "column \"" + name + "\" appears twice"});
    }
  }
  if (!column.count("phone_number")) {
    plan.problems.push_back({header.line, "the header has no phone_number column"});
  }
  if (!plan.problems.empty()) return plan;

  std::map<std::string, std::size_t> number_line;  // number -> first line listing it
  std::map<UserId, std::size_t> id_line;
  for (std::size_t r = 1; r < records->size(); ++r) {
    const auto& rec = (*records)[r];
    auto get = [&](const char* name) -> std::string {
      auto it = column.find(name);
      if (it == column.end() || it->second >= rec.fields.size()) return "";
      return std::string(trim(rec.fields[it->second]));
    };
    if (rec.fields.size() != header.fields.size()) {
      plan.problems.push_back({rec.line, "has " + std::to_string(rec.fields.size()) +
                                             " fields, the header has " +
                                             std::to_string(header.fields.size())});
      continue;
    }
    ImportRow row;
    row.line = rec.line;
    std::vector<std::string> raw_numbers = {get("phone_number")};
    if (raw_numbers.front().empty()) {
      plan.problems.push_back({rec.line, "phone_number is empty"});
      continue;
    }
    for (auto& extra : split_numbers(get("extra_phone_numbers"))) raw_numbers.push_back(extra);
    bool ok = true;
    for (const auto& raw : raw_numbers) {
      auto e164 = normalizer.to_e164(raw);
      if (!e164) {
        plan.problems.push_back({rec.line, "\"" + raw + "\" is not a valid phone number (region " +
                                               normalizer.default_region() + ")"});
        ok = false;
        continue;
      }
      auto [it, inserted] = number_line.emplace(*e164, rec.line);
      if (!inserted) {
        plan.problems.push_back({rec.line, "number " + *e164 + " is also on line " +
                                               std::to_string(it->second)});
        ok = false;
        continue;
      }
      row.user.phones.push_back(*e164);
    }
    if (auto id_text = get("id"); !id_text.empty()) {
      auto id = parse_id(id_text);
      if (!id) {
        plan.problems.push_back({rec.line, "id \"" + id_text + "\" is not a positive integer"});
        ok = false;
      } else if (auto [it, inserted] = id_line.emplace(*id, rec.line); !inserted) {
        plan.problems.push_back({rec.line, "id " + id_text + " is also on line " +
                                               std::to_string(it->second)});
        ok = false;
      } else {
        row.user.id = id;
      }
    }
    const std::string is_active = get("is_active");
    auto active = is_active.empty() ? std::optional<bool>(true) : parse_bool(is_active);
    if (!active) {
      plan.problems.push_back({rec.line, "is_active \"" + get("is_active") +
                                             "\" must be true, false, 1 or 0"});
      ok = false;
    } else {
      row.user.active = *active;
    }
    row.user.email = get("email");
    row.user.full_name = get("full_name");
    if (ok) plan.rows.push_back(std::move(row));
  }
  return plan;
}

namespace {

bool same_user(const User& existing, const std::vector<std::string>& existing_extra,
               const NewUser& wanted) {
  std::vector<std::string> want_extra(wanted.phones.begin() + 1, wanted.phones.end());
  std::sort(want_extra.begin(), want_extra.end());
  return existing.email == wanted.email && existing.full_name == wanted.full_name &&
         existing.active == wanted.active && existing.phone_number == wanted.phones.front() &&
         existing_extra == want_extra;
}

}  // namespace

ImportResult apply_import(Store& store, const std::vector<ImportRow>& rows,
                          const std::function<void(std::size_t, std::size_t)>& progress) {
  // Read what exists first (outside the writer) to tell updates from no-ops.
  std::map<UserId, UserWithPhones> existing;
  for (auto& u : store.list_users()) existing.emplace(u.user.id, std::move(u));

  return store.write([&](WriteTxn& txn) {
    ImportResult result;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& row = rows[i];
      NewUser user = row.user;
      if (!user.id) user.id = txn.owner_of(user.phones.front());
      try {
        if (user.id && txn.find_user(*user.id)) {
          auto it = existing.find(*user.id);
          if (it != existing.end() && same_user(it->second.user, it->second.extra_phones, user)) {
            ++result.unchanged;
          } else {
            txn.update_user(user);
            ++result.updated;
          }
        } else {
          txn.insert_user(user);
          ++result.created;
        }
      } catch (const StoreError& e) {
        throw ImportRowError(e.kind(), row.line, e.what());
      }
      if (progress && (i % 500 == 0 || i + 1 == rows.size())) progress(i + 1, rows.size());
    }
    return result;
  });
}

}  // namespace smsr
